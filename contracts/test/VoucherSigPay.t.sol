// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherCore} from "../src/interfaces/IVoucherCore.sol";
import {IVoucherToken} from "../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {VoucherAdmin} from "../src/VoucherAdmin.sol";
import {VoucherToken} from "../src/VoucherToken.sol";
import {ForwardRequests} from "./utils/ForwardRequests.sol";
import {MoneyRulesFixture} from "./utils/MoneyRulesFixture.sol";
import {SignedPayments} from "./utils/SignedPayments.sol";

/// @notice `payBySig` / `payBySigBatch`: a payment the payer signed (EIP-712, the city's proxy
/// as verifying contract) whose replay nonce is the payer's payment sequence. Signatures are
/// built by utils/SignedPayments.sol from the literal type and domain a wallet would pin, not
/// from the contract's constants, so a change to either fails these tests.
contract VoucherSigPayTest is MoneyRulesFixture {
    event GasMeasured(string what, uint256 gas);
    event SignedPaymentSkipped(address indexed payer, uint256 nonce, bytes reason);

    bytes32 internal constant PAYMENT_TYPE = SignedPayments.PAYMENT_TYPE;
    bytes32 internal constant DOMAIN_TYPE = SignedPayments.DOMAIN_TYPE;
    /// @dev secp256k1's group order: s and n - s are the two valid signatures of one message.
    uint256 internal constant N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant WARM_UP = 3;

    address internal shop;

    function setUp() public override {
        super.setUp();
        shop = newMerchant(KSIC_RESTAURANT, 0);
    }

    // ------------------------------------------------------------------ single

    function test_payBySig_paysAsPayWould() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        vm.recordLogs();
        vm.prank(address(0xBEEF)); // anyone submits
        uint256 seq = _core().payBySig(p, _sign(key, p));
        assertEq(seq, 0, "seq");
        assertEq(token.balanceOf(payer), 100_000 - 1000 + 100, "paid, 10% back");
        assertEq(token.balanceOf(shop), 1000, "merchant");
        IVoucherTypes.PaymentRecord memory rec = readRecord(vm.getRecordedLogs());
        assertEq(rec.payer, payer, "Paid names the signer");
        assertEq(_nextSeq(payer), 1, "sequence used");
        // The next payment signs the next sequence.
        p = _payment(payer, 1000, 1);
        assertEq(_core().payBySig(p, _sign(key, p)), 1, "second seq");
    }

    function test_payBySig_spendsTheSignedPocketsFirst() public {
        (uint256 key, address payer) = _citizen();
        uint256 id = singleProgram(payer, 700, noCategories());
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        p.programIds = ids1(id);
        _core().payBySig(p, _sign(key, p));
        assertEq(token.pocketOf(id, payer), 0, "pocket spent first");
        assertEq(token.balanceOf(shop), 1000, "merchant");
        // The pockets are signed: naming none instead is another message.
        (uint256 key2, address payer2) = _citizen();
        uint256 id2 = singleProgram(payer2, 700, noCategories());
        p = _payment(payer2, 1000, 0);
        p.programIds = ids1(id2);
        IVoucherTypes.PaymentSignature memory signature = _sign(key2, p);
        p.programIds = new uint256[](0);
        vm.expectRevert(_badSignature(payer2));
        _core().payBySig(p, signature);
    }

    function test_RevertWhen_payBySigReplayed() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        _core().payBySig(p, signature);
        vm.expectRevert(_badNonce(payer, 1, 0));
        _core().payBySig(p, signature);
        assertEq(token.balanceOf(shop), 1000, "paid once");
    }

    function test_RevertWhen_payBySigNonceAhead() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 5);
        vm.expectRevert(_badNonce(payer, 0, 5));
        _core().payBySig(p, _sign(key, p));
    }

    /// @dev A direct payment takes the sequence the wallet signed: the signature is spent.
    function test_RevertWhen_payBySigAfterADirectPayment() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        payGeneral(payer, shop, 500);
        vm.expectRevert(_badNonce(payer, 1, 0));
        _core().payBySig(p, signature);
    }

    function test_RevertWhen_payBySigForAnotherCity() public {
        (uint256 key, address payer) = _citizen();
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, KSIC_RESTAURANT, 0, false);
        vm.prank(issuer);
        seongnam.issue(payer, 100_000, 90_000);
        // Signed for Siheung's token, presented to Seongnam's (same payer, nonce, fields).
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        p.merchant = seongnamShop;
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        vm.expectRevert(_badSignature(payer));
        VoucherToken(address(seongnam)).payBySig(p, signature);
        // Signed for Seongnam's, it pays there.
        VoucherToken(address(seongnam)).payBySig(p, _signFor(address(seongnam), key, p));
        assertEq(seongnam.balanceOf(seongnamShop), 1000, "paid in Seongnam");
    }

    function test_RevertWhen_payBySigExpired() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        vm.warp(p.deadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherSignedPaymentExpired.selector, payer, p.deadline
            )
        );
        _core().payBySig(p, signature);
        vm.warp(p.deadline); // the deadline itself is still in time
        _core().payBySig(p, signature);
    }

    function test_RevertWhen_payBySigSignedByAnother() public {
        (, address payer) = _citizen();
        (uint256 otherKey,) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        vm.expectRevert(_badSignature(payer));
        _core().payBySig(p, _sign(otherKey, p));
    }

    function test_RevertWhen_payBySigFieldAltered() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        p.amount = 2000;
        vm.expectRevert(_badSignature(payer));
        _core().payBySig(p, signature);
    }

    /// @dev (r, n - s) with v flipped recovers the same signer through ecrecover, but its s
    /// needs the top bit the compact form gives to v: whatever it is read as, it is refused.
    function test_RevertWhen_payBySigHighS() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        bytes32 digest = SignedPayments.digest(address(token), p);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        uint256 twinS = N - uint256(s);
        uint8 twinV = v == 27 ? 28 : 27;
        assertEq(ecrecover(digest, twinV, r, bytes32(twinS)), payer, "twin is valid for ecrecover");
        assertGe(twinS, 1 << 255, "the twin's s takes the bit of v");
        vm.expectRevert(_badSignature(payer));
        _core().payBySig(p, IVoucherTypes.PaymentSignature(r, bytes32(twinS)));
    }

    /// @dev The v bit is signed data too: flipped, the signature recovers someone else.
    function test_RevertWhen_payBySigVFlipped() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        signature.vs ^= bytes32(uint256(1) << 255);
        vm.expectRevert(_badSignature(payer));
        _core().payBySig(p, signature);
    }

    /// @dev A zero payer cannot be matched by a signature that recovers nothing.
    function test_RevertWhen_payBySigRecoversZero() public {
        IVoucherTypes.SignedPayment memory p = _payment(address(0), 1000, 0);
        vm.expectRevert(_badSignature(address(0)));
        _core().payBySig(p, IVoucherTypes.PaymentSignature(bytes32(0), bytes32(0)));
        // Nor by one ecrecover maps to zero (r at the group order, off the range).
        vm.expectRevert(_badSignature(address(0)));
        _core().payBySig(p, IVoucherTypes.PaymentSignature(bytes32(N), bytes32(uint256(1))));
    }

    function test_RevertWhen_payBySigPayerFrozen() public {
        (uint256 key, address payer) = _citizen();
        vm.prank(operator);
        registry.setFrozen(payer, true);
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        _expectAsDirect(p, abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, payer));
        _core().payBySig(p, signature);
    }

    function test_RevertWhen_payBySigPaused() public {
        (uint256 key, address payer) = _citizen();
        vm.prank(pauser);
        token.setPaused(true);
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        _expectAsDirect(p, abi.encodeWithSelector(IVoucherBase.VoucherPaused.selector));
        _core().payBySig(p, signature);
    }

    function test_RevertWhen_payBySigMerchantUnregistered() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        p.merchant = address(0xBAD);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        _expectAsDirect(
            p, abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, address(0xBAD))
        );
        _core().payBySig(p, signature);
    }

    function test_RevertWhen_payBySigOverBalance() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 200_000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        _expectAsDirect(
            p,
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, payer, 100_000, 200_000
            )
        );
        _core().payBySig(p, signature);
    }

    /// @dev Only the payer's key, for exactly their next sequence, pays; anything else reverts
    /// with the error that names what is wrong, and changes nothing.
    function testFuzz_payBySig_onlyThePayerForTheirSequence(uint256 signerKey, uint256 nonce)
        public
    {
        (uint256 key, address payer) = _citizen();
        payGeneral(payer, shop, 100); // sequence 1 is next
        signerKey = bound(signerKey, 1, N - 1);
        nonce = bound(nonce, 0, 3);
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, nonce);
        IVoucherTypes.PaymentSignature memory signature = _sign(signerKey, p);
        uint256 before = token.balanceOf(shop);
        if (nonce != 1) {
            vm.expectRevert(_badNonce(payer, 1, nonce));
        } else if (signerKey != key) {
            vm.expectRevert(_badSignature(payer));
        }
        _core().payBySig(p, signature);
        bool paid = nonce == 1 && signerKey == key;
        assertEq(token.balanceOf(shop), before + (paid ? 1000 : 0), "paid only when valid");
        assertEq(_nextSeq(payer), paid ? 2 : 1, "sequence");
    }

    // ------------------------------------------------------------------ batch

    function test_payBySigBatch_paysEveryRequest() public {
        (IVoucherTypes.SignedPayment[] memory ps, IVoucherTypes.PaymentSignature[] memory sigs) =
            _batch(3);
        assertEq(_core().payBySigBatch(ps, sigs), 3, "paid count");
        for (uint256 i = 0; i < 3; ++i) {
            assertEq(_nextSeq(ps[i].payer), 1, "each paid once");
        }
        assertEq(token.balanceOf(shop), 3000, "merchant");
    }

    /// @dev The relayer batches many wallets: a bad request in the middle is skipped with its
    /// reason, the ones around it pay exactly once, and so does a request sent twice.
    function test_payBySigBatch_skipsABadRequestAndPaysTheOthersOnce() public {
        (IVoucherTypes.SignedPayment[] memory ps, IVoucherTypes.PaymentSignature[] memory sigs) =
            _batch(4);
        ps[1].amount = 999; // altered after signing
        ps[3] = ps[0]; // the first request again
        sigs[3] = sigs[0];
        vm.expectEmit(true, false, false, true, address(token));
        emit SignedPaymentSkipped(ps[1].payer, 0, _badSignature(ps[1].payer));
        vm.expectEmit(true, false, false, true, address(token));
        emit SignedPaymentSkipped(ps[0].payer, 0, _badNonce(ps[0].payer, 1, 0));
        assertEq(_core().payBySigBatch(ps, sigs), 2, "paid count");
        assertEq(_nextSeq(ps[0].payer), 1, "first paid once");
        assertEq(_nextSeq(ps[1].payer), 0, "bad one not paid");
        assertEq(_nextSeq(ps[2].payer), 1, "third paid once");
        assertEq(token.balanceOf(shop), 2000, "merchant got two payments");
        assertEq(token.balanceOf(ps[1].payer), 100_000, "bad one's money untouched");
    }

    /// @dev A rule failing deep in the payment (not the signature) is skipped the same way.
    function test_payBySigBatch_skipsARuleRejection() public {
        (IVoucherTypes.SignedPayment[] memory ps, IVoucherTypes.PaymentSignature[] memory sigs) =
            _batch(2);
        (uint256 key, address frozen) = _citizen();
        vm.prank(operator);
        registry.setFrozen(frozen, true);
        IVoucherTypes.SignedPayment[] memory three = new IVoucherTypes.SignedPayment[](3);
        IVoucherTypes.PaymentSignature[] memory threeSigs = new IVoucherTypes.PaymentSignature[](3);
        (three[0], three[2], threeSigs[0], threeSigs[2]) = (ps[0], ps[1], sigs[0], sigs[1]);
        three[1] = _payment(frozen, 1000, 0);
        threeSigs[1] = _sign(key, three[1]);
        vm.expectEmit(true, false, false, true, address(token));
        emit SignedPaymentSkipped(
            frozen, 0, abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, frozen)
        );
        assertEq(_core().payBySigBatch(three, threeSigs), 2, "paid count");
        assertEq(token.balanceOf(shop), 2000, "merchant");
    }

    function test_RevertWhen_payBySigBatchLengthMismatch() public {
        (IVoucherTypes.SignedPayment[] memory ps,) = _batch(2);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherBatchLengthMismatch.selector, 2, 1)
        );
        _core().payBySigBatch(ps, new IVoucherTypes.PaymentSignature[](1));
    }

    // ------------------------------------------------------------------ domain

    /// @dev Wallets read the domain (EIP-5267) and the type hash rather than retyping them.
    function test_eip712Domain_isThisCitysProxy() public view {
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = token.eip712Domain();
        assertEq(uint256(uint8(fields)), 0x0f, "name, version, chainId, verifyingContract");
        assertEq(keccak256(bytes(name)), keccak256("Dongne Voucher"), "name");
        assertEq(keccak256(bytes(version)), keccak256("1"), "version");
        assertEq(chainId, block.chainid, "chain");
        assertEq(verifyingContract, address(token), "the proxy, not the implementation");
        assertEq(salt, bytes32(0), "no salt");
        assertEq(extensions.length, 0, "no extensions");
        assertEq(token.SIGNED_PAYMENT_TYPEHASH(), PAYMENT_TYPE, "type hash");
    }

    /// @dev The domain is constants of the code and the proxy's address: a payment signed
    /// before a beacon upgrade still pays after it.
    function test_payBySig_signatureSurvivesAnUpgrade() public {
        (uint256 key, address payer) = _citizen();
        IVoucherTypes.SignedPayment memory p = _payment(payer, 1000, 0);
        IVoucherTypes.PaymentSignature memory signature = _sign(key, p);
        VoucherAdmin admin = new VoucherAdmin(address(forwarder), registry, address(servicesModule));
        VoucherToken next = new VoucherToken(address(forwarder), registry, address(admin));
        vm.prank(operator);
        beacon.upgradeTo(address(next));
        _core().payBySig(p, signature);
        assertEq(token.balanceOf(shop), 1000, "paid after the upgrade");
    }

    // ------------------------------------------------------------------ gas

    /// @dev Steady state (payer paid WARM_UP times before, ring slot fresh as in bench_gas):
    /// execution gas of the call only; intrinsic and calldata gas come on top of both.
    function test_gas_payBySigAgainstTheForwarder() public {
        (uint256 keyA, address a) = _citizen();
        (uint256 keyB, address b) = _citizen();
        for (uint256 i = 0; i < WARM_UP; ++i) {
            forwarder.execute(_forwarded(keyA, a, i));
            IVoucherTypes.SignedPayment memory w = _payment(b, 1000, i);
            _core().payBySig(w, _sign(keyB, w));
        }
        ERC2771Forwarder.ForwardRequestData memory req = _forwarded(keyA, a, WARM_UP);
        IVoucherTypes.SignedPayment memory p = _payment(b, 1000, WARM_UP);
        IVoucherTypes.PaymentSignature memory signature = _sign(keyB, p);
        uint256 g = gasleft();
        forwarder.execute(req);
        uint256 relayed = g - gasleft();
        g = gasleft();
        _core().payBySig(p, signature);
        uint256 signed = g - gasleft();
        emit GasMeasured("forwarder.execute(pay)", relayed);
        emit GasMeasured("payBySig", signed);
        assertLe(signed, relayed, "cheaper than the forwarder");
    }

    /// @dev What a skipped request costs inside a batch (execution gas, first-time payers):
    /// a replay fails at the nonce, a frozen payer only inside the payment, after the signature.
    function test_gas_payBySigBatchSkips() public {
        (IVoucherTypes.SignedPayment[] memory ps, IVoucherTypes.PaymentSignature[] memory sigs) =
            _batch(2);
        (uint256 key, address frozen) = _citizen();
        vm.prank(operator);
        registry.setFrozen(frozen, true);
        IVoucherTypes.SignedPayment[] memory one = new IVoucherTypes.SignedPayment[](1);
        IVoucherTypes.PaymentSignature[] memory oneSig = new IVoucherTypes.PaymentSignature[](1);
        (one[0], oneSig[0]) = (ps[0], sigs[0]);
        uint256 g = gasleft();
        _core().payBySigBatch(one, oneSig);
        uint256 paid = g - gasleft();
        g = gasleft();
        _core().payBySigBatch(one, oneSig); // the same request again: skipped at the nonce
        uint256 replay = g - gasleft();
        one[0] = _payment(frozen, 1000, 0);
        oneSig[0] = _sign(key, one[0]);
        g = gasleft();
        assertEq(_core().payBySigBatch(one, oneSig), 0, "frozen payer skipped");
        uint256 rejected = g - gasleft();
        emit GasMeasured("batch of one, paid", paid);
        emit GasMeasured("batch of one, replay skipped", replay);
        emit GasMeasured("batch of one, frozen payer skipped", rejected);
        assertLe(replay, paid, "a skip costs less than a payment");
    }

    // ------------------------------------------------------------------ helpers

    function _core() private view returns (VoucherToken) {
        return VoucherToken(address(token));
    }

    function _citizen() private returns (uint256 key, address citizen) {
        (key, citizen) = newKey();
        vm.prank(operator);
        registry.register(citizen, IIdentityRegistry.Kind.Citizen);
        buy(citizen, 100_000);
    }

    function _nextSeq(address payer) private view returns (uint256 seq) {
        (,,,,,, seq) = token.accountOf(payer);
    }

    function _payment(address payer, uint256 amount, uint256 nonce)
        private
        view
        returns (IVoucherTypes.SignedPayment memory p)
    {
        p.payer = payer;
        p.merchant = shop;
        p.amount = amount;
        p.programIds = new uint256[](0);
        p.nonce = nonce;
        p.deadline = block.timestamp + 1 hours;
    }

    function _batch(uint256 n)
        private
        returns (
            IVoucherTypes.SignedPayment[] memory ps,
            IVoucherTypes.PaymentSignature[] memory sigs
        )
    {
        ps = new IVoucherTypes.SignedPayment[](n);
        sigs = new IVoucherTypes.PaymentSignature[](n);
        for (uint256 i = 0; i < n; ++i) {
            (uint256 key, address payer) = _citizen();
            ps[i] = _payment(payer, 1000, 0);
            sigs[i] = _sign(key, ps[i]);
        }
    }

    function _sign(uint256 key, IVoucherTypes.SignedPayment memory p)
        private
        view
        returns (IVoucherTypes.PaymentSignature memory)
    {
        return _signFor(address(token), key, p);
    }

    function _signFor(address city, uint256 key, IVoucherTypes.SignedPayment memory p)
        private
        view
        returns (IVoucherTypes.PaymentSignature memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, SignedPayments.digest(city, p));
        return SignedPayments.compact(v, r, s);
    }

    function _badSignature(address payer) private pure returns (bytes memory) {
        return abi.encodeWithSelector(IVoucherBase.VoucherInvalidPaymentSignature.selector, payer);
    }

    function _badNonce(address payer, uint256 expected, uint256 given)
        private
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(
            IVoucherBase.VoucherInvalidPaymentNonce.selector, payer, expected, given
        );
    }

    /// @dev The direct payment of the same fields reverts with `reason` (checked on a
    /// snapshot, undone), and the next call is expected to revert with it too.
    function _expectAsDirect(IVoucherTypes.SignedPayment memory p, bytes memory reason) private {
        uint256 id = snap.snapshotState();
        vm.prank(p.payer);
        vm.expectRevert(reason);
        token.pay(p.merchant, p.amount, p.paymentId, p.programIds);
        snap.revertToState(id);
        vm.expectRevert(reason);
    }

    function _forwarded(uint256 key, address from, uint256 nonce)
        private
        view
        returns (ERC2771Forwarder.ForwardRequestData memory req)
    {
        req.from = from;
        req.to = address(token);
        req.gas = 300_000;
        req.deadline = uint48(block.timestamp + 1 hours);
        req.data = abi.encodeCall(IVoucherCore.pay, (shop, 1000, bytes32(0), new uint256[](0)));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, ForwardRequests.digest(address(forwarder), req, nonce));
        req.signature = abi.encodePacked(r, s, v);
    }
}
