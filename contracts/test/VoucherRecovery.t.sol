// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";
import {IdentityRegistry} from "../src/IdentityRegistry.sol";
import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {ForwardRequests} from "./utils/ForwardRequests.sol";
import {MoneyRulesFixture} from "./utils/MoneyRulesFixture.sol";

/// @notice Wallet recovery: the registry moves a lost wallet to the same person's new wallet
/// after a delay the lost key can still cancel; the token then moves the money, books and
/// pockets, and later cancellations of the lost wallet's payments pay the new wallet.
contract VoucherRecoveryTest is MoneyRulesFixture {
    uint256 internal constant DELAY = 72 hours;

    uint256 internal lostKey;
    address internal lost;
    address internal fresh; // the person's new wallet
    address internal stranger;
    address internal shop0; // tier 0: 10% cashback
    address internal shopNew;
    address internal institution;
    uint256 internal programA;
    uint256 internal programB;

    function setUp() public override {
        super.setUp();
        (lostKey, lost) = newKey();
        vm.prank(operator);
        registry.register(lost, IIdentityRegistry.Kind.Citizen);
        fresh = newCitizen();
        stranger = newCitizen();
        shop0 = newMerchant(KSIC_RESTAURANT, 0);
        institution = newInstitution();
        (, shopNew) = newKey();
        vm.prank(operator);
        registry.register(shopNew, IIdentityRegistry.Kind.Merchant);
    }

    function _start(address from, address to) internal {
        vm.prank(operator);
        registry.startRecovery(from, to);
    }

    function _recover(address from, address to) internal {
        _start(from, to);
        vm.warp(block.timestamp + DELAY);
        registry.finalizeRecovery(from);
    }

    // ================================================================== registry: start

    function test_startRecovery_freezesTheLostWallet() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.IdentityFrozenSet(lost, true, operator);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryStarted(lost, fresh, block.timestamp + DELAY, operator);
        _start(lost, fresh);
        (, bool frozen) = registry.identityOf(lost);
        assertTrue(frozen, "lost frozen at once");
        (address to, uint256 at) = registry.pendingRecovery(lost);
        assertEq(to, fresh, "pending to");
        assertEq(at, block.timestamp + DELAY, "effective at");
        assertEq(registry.recoveredTo(lost), address(0), "not final");
    }

    function test_startRecovery_ofAnAlreadyFrozenWallet() public {
        vm.prank(operator);
        registry.setFrozen(lost, true);
        vm.recordLogs();
        _start(lost, fresh);
        assertEq(vm.getRecordedLogs().length, 1, "only RecoveryStarted");
    }

    function test_RevertWhen_startRecoveryInvalid() public {
        address nobody = address(0xDEAD);
        vm.startPrank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityUnregistered.selector, nobody)
        );
        registry.startRecovery(nobody, fresh);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityUnregistered.selector, nobody)
        );
        registry.startRecovery(lost, nobody);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityRecoveryInvalid.selector, lost, bytes32("same")
            )
        );
        registry.startRecovery(lost, lost);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityRecoveryInvalid.selector, lost, bytes32("kind")
            )
        );
        registry.startRecovery(lost, shopNew);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityRecoveryInvalid.selector, lost, bytes32("kind")
            )
        );
        registry.startRecovery(lost, institution);
        registry.setFrozen(fresh, true);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityRecoveryInvalid.selector, lost, bytes32("frozen")
            )
        );
        registry.startRecovery(lost, fresh);
        registry.setFrozen(fresh, false);
        registry.startRecovery(lost, fresh);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityRecoveryPending.selector, lost)
        );
        registry.startRecovery(lost, stranger);
        vm.stopPrank();
    }

    function test_RevertWhen_startRecoveryByNonRegistrar() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                cityAdmin,
                registry.REGISTRAR_ROLE()
            )
        );
        vm.prank(cityAdmin);
        registry.startRecovery(lost, fresh);
    }

    function test_recoveryDelay_boundedAndSettable() public {
        assertEq(registry.recoveryDelay(), DELAY, "fixture delay");
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryDelaySet(30 days);
        vm.prank(operator);
        registry.setRecoveryDelay(30 days);
        bytes memory err = abi.encodeWithSelector(
            IIdentityRegistry.IdentityRecoveryInvalid.selector, address(0), bytes32("delay")
        );
        vm.expectRevert(err);
        vm.prank(operator);
        registry.setRecoveryDelay(30 days + 1);
        vm.expectRevert(err);
        new IdentityRegistry(operator, address(forwarder), 30 days + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, bytes32(0)
            )
        );
        vm.prank(cityAdmin);
        registry.setRecoveryDelay(1);
    }

    // ================================================================== registry: cancel

    function test_cancelRecovery_byTheLostKeyItself() public {
        _start(lost, fresh);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryCancelled(lost, lost);
        vm.prank(lost);
        registry.cancelRecovery(lost);
        (address to,) = registry.pendingRecovery(lost);
        assertEq(to, address(0), "no longer pending");
        (, bool frozen) = registry.identityOf(lost);
        assertTrue(frozen, "stays frozen until a registrar unfreezes it");
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityNoRecovery.selector, lost));
        registry.finalizeRecovery(lost);
        vm.prank(operator);
        registry.setFrozen(lost, false);
    }

    function test_cancelRecovery_byTheLostKeyThroughTheForwarder() public {
        _start(lost, fresh);
        ERC2771Forwarder.ForwardRequestData memory req = _signedCancel();
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryCancelled(lost, lost);
        vm.prank(address(0x6A7E)); // the gateway relays; the lost key holds no gas
        forwarder.execute(req);
        (address to,) = registry.pendingRecovery(lost);
        assertEq(to, address(0), "cancelled by the lost key");
    }

    function test_cancelRecovery_byRegistrarOnlyOtherwise() public {
        _start(lost, fresh);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityNotAuthorized.selector, fresh)
        );
        vm.prank(fresh); // not even the new wallet
        registry.cancelRecovery(lost);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryCancelled(lost, operator);
        vm.prank(operator);
        registry.cancelRecovery(lost);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityNoRecovery.selector, lost));
        vm.prank(lost);
        registry.cancelRecovery(lost);
        // It can be started again.
        _start(lost, stranger);
    }

    // ================================================================== registry: finalise

    function test_finalizeRecovery_onlyAfterTheDelay() public {
        _start(lost, fresh);
        uint256 at = block.timestamp + DELAY;
        vm.warp(at - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityRecoveryNotYetEffective.selector, lost, at
            )
        );
        registry.finalizeRecovery(lost);
        vm.warp(at);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryFinalized(lost, fresh);
        vm.prank(stranger); // anyone
        registry.finalizeRecovery(lost);
        assertEq(registry.recoveredTo(lost), fresh, "recovered");
        (, bool frozen) = registry.identityOf(lost);
        assertTrue(frozen, "frozen for good");
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityRecovered.selector, lost, fresh)
        );
        vm.prank(operator);
        registry.setFrozen(lost, false);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityRecovered.selector, lost, fresh)
        );
        vm.prank(operator);
        registry.startRecovery(lost, stranger);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityNoRecovery.selector, lost));
        registry.finalizeRecovery(lost);
        vm.expectRevert(abi.encodeWithSelector(IIdentityRegistry.IdentityNoRecovery.selector, lost));
        vm.prank(lost);
        registry.cancelRecovery(lost);
    }

    // ================================================================== token

    function test_RevertWhen_recoverWalletBeforeFinalisation() public {
        buy(lost, 100_000);
        bytes memory err = abi.encodeWithSelector(IVoucherBase.VoucherNotRecovered.selector, lost);
        vm.expectRevert(err);
        token.recoverWallet(lost, noPrograms());
        _start(lost, fresh);
        vm.expectRevert(err);
        token.recoverWallet(lost, noPrograms());
        vm.prank(lost);
        registry.cancelRecovery(lost);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(err);
        token.recoverWallet(lost, noPrograms());
    }

    function test_recoverWallet_movesMoneyBooksAndPockets() public {
        buy(lost, 300_000); // paid 270k
        payRecord(lost, shop0, 100_000); // 10k cashback
        programA = singleProgram(lost, 20_000, noCategories());
        programB = singleProgram(lost, 5000, noCategories());
        uint256 supply = token.totalSupply();
        _recover(lost, fresh);
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(lost, fresh, 210_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.WalletRecovered(lost, fresh, 210_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PocketRecovered(programA, lost, fresh, 20_000);
        vm.prank(stranger); // anyone
        token.recoverWallet(lost, ids1(programA));
        assertEq(token.recoveredTo(lost), fresh, "token knows");
        assertEq(token.balanceOf(fresh), 210_000, "balance");
        assertEq(token.balanceOf(lost), 0, "lost emptied");
        assertEq(token.pocketOf(programA, fresh), 20_000, "pocket A");
        assertEq(token.pocketOf(programB, lost), 5000, "B not named yet");
        (uint256 purchased, uint256 cashbackBase,,, uint256 face, uint256 paid,) =
            token.accountOf(fresh);
        assertEq(purchased, 300_000, "this month's purchases");
        assertEq(cashbackBase, 100_000, "this month's cashback base");
        assertEq(face, 300_000, "boughtFace");
        assertEq(paid, 270_000, "boughtPaid");
        (,,,, face, paid,) = token.accountOf(lost);
        assertEq(face + paid, 0, "lost book emptied");
        assertEq(token.totalSupply(), supply, "supply unchanged");
        // A second call with more pockets moves only those (general money moved once).
        vm.recordLogs();
        token.recoverWallet(lost, ids2(programA, programB));
        assertEq(vm.getRecordedLogs().length, 1, "one PocketRecovered");
        assertEq(token.pocketOf(programB, fresh), 5000, "pocket B");
        assertEq(token.pocketOf(programB, lost), 0, "B moved");
        assertEq(token.balanceOf(fresh), 210_000, "not moved twice");
        assertEq(token.totalSupply(), supply, "supply unchanged");
    }

    function test_recoverWallet_keepsThisMonthsPurchaseCap() public {
        buy(lost, 300_000);
        _recover(lost, fresh);
        token.recoverWallet(lost, noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMonthlyPurchaseCapExceeded.selector, fresh, 700_001, 700_000
            )
        );
        vm.prank(issuer);
        token.issue(fresh, 400_001, 400_001);
        buyAtPar(fresh, 400_000);
    }

    function test_recoverWallet_refundFromTheNewWallet() public {
        buy(lost, 100_000); // paid 90k
        payRecord(lost, shop0, 85_000); // 8.5k cashback, not refundable
        _recover(lost, fresh);
        token.recoverWallet(lost, noPrograms());
        vm.prank(fresh);
        (uint256 face, uint256 cash) = token.refund();
        assertEq(face, 15_000, "the bought money left");
        assertEq(cash, 13_500, "at the price paid");
        assertEq(token.balanceOf(fresh), 8500, "cashback stays");
    }

    function test_recoverWallet_laterCancellationPaysTheNewWallet() public {
        buy(lost, 100_000);
        programA = singleProgram(lost, 10_000, noCategories());
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(lost, shop0, 30_000, freshId(), ids1(programA), address(0));
        assertEq(rec.fromGeneral, 20_000, "general part");
        // Frozen while recovery is pending: the merchant cannot pay the lost wallet back.
        _start(lost, fresh);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, lost));
        vm.prank(shop0);
        token.cancelPayment(rec, 1);
        vm.warp(block.timestamp + DELAY);
        registry.finalizeRecovery(lost);
        token.recoverWallet(lost, ids1(programA));
        uint256 before = token.balanceOf(fresh);
        rec = cancelPart(shop0, rec, 15_000); // general first
        assertEq(token.balanceOf(fresh), before + 15_000 - 1500, "general back to the new wallet");
        rec = cancelPart(shop0, rec, 15_000);
        assertEq(token.balanceOf(fresh), before + 20_000 - 2000, "all general");
        assertEq(token.pocketOf(programA, fresh), 10_000, "pocket back to the new wallet");
        assertEq(token.pocketOf(programA, lost), 0, "never to the lost wallet");
        assertEq(token.balanceOf(lost), 0, "lost stays empty");
    }

    function test_RevertWhen_recoverWalletWhilePaused() public {
        buy(lost, 100_000);
        _recover(lost, fresh);
        vm.prank(pauser);
        token.setPaused(true);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.recoverWallet(lost, noPrograms());
        vm.prank(pauser);
        token.setPaused(false);
        token.recoverWallet(lost, noPrograms());
        assertEq(token.balanceOf(fresh), 100_000, "moved once unpaused");
    }

    function test_recoverWallet_emptyWallet() public {
        _recover(lost, fresh);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.WalletRecovered(lost, fresh, 0);
        token.recoverWallet(lost, noPrograms());
        assertEq(token.recoveredTo(lost), fresh, "recorded");
    }

    /// @notice Recovery conserves everything: the sum of general balances, each pocket's
    /// holder total, the total supply and the refund basis.
    function testFuzz_recoverWallet_conserves(
        uint256 bought,
        uint256 spent,
        uint256 freshBought,
        uint256 pocket,
        bool namePocket
    ) public {
        bought = bound(bought, 1, 700_000);
        spent = bound(spent, 0, bought);
        freshBought = bound(freshBought, 0, 700_000);
        pocket = bound(pocket, 1, 100_000);
        vm.prank(issuer);
        token.issue(lost, bought, bought - bought / 20);
        if (freshBought > 0) buyAtPar(fresh, freshBought);
        if (spent > 0) payRecord(lost, shop0, spent);
        programA = singleProgram(lost, pocket, noCategories());
        uint256 supply = token.totalSupply();
        uint256 balances = token.balanceOf(lost) + token.balanceOf(fresh);
        (,,,, uint256 faceLost, uint256 paidLost,) = token.accountOf(lost);
        (,,,, uint256 faceFresh, uint256 paidFresh,) = token.accountOf(fresh);
        _recover(lost, fresh);
        token.recoverWallet(lost, namePocket ? ids1(programA) : noPrograms());
        assertEq(token.totalSupply(), supply, "supply");
        assertEq(token.balanceOf(fresh), balances, "balances");
        assertEq(token.balanceOf(lost), 0, "lost");
        assertEq(token.pocketOf(programA, lost) + token.pocketOf(programA, fresh), pocket, "pocket");
        assertEq(token.pocketOf(programA, fresh), namePocket ? pocket : 0, "named pockets move");
        (,,,, uint256 face, uint256 paid,) = token.accountOf(fresh);
        assertEq(face, faceLost + faceFresh, "boughtFace");
        assertEq(paid, paidLost + paidFresh, "boughtPaid");
    }

    // ================================================================== replayed bugs

    /// @notice Replays a bug found in review: the new wallet's refund counts the lost wallet's
    /// payments as spent (the refund basis moved with the recovery) but did not close them
    /// (`refundedAtSeq` is per wallet), so a merchant could cancel one afterwards and hand back
    /// money the refund had treated as spent, bypassing the refund threshold.
    function test_refundAfterRecoveryClosesTheLostWalletsPayments() public {
        buyAtPar(lost, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payRecord(lost, shop0, 85_000);
        _recover(lost, fresh);
        token.recoverWallet(lost, noPrograms());
        vm.prank(fresh);
        token.refund(); // counted the 85k as spent
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentClosedByRefund.selector, lost, 0, 1)
        );
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
    }

    /// @notice Replays a bug found in review: cancellations of a lost wallet's payments followed
    /// one recovery only, so after a second recovery they went to the frozen middle wallet and
    /// reverted `VoucherFrozen`; they now follow the chain to the newest wallet.
    function test_cancellationAfterChainedRecoveryPaysTheLatestWallet() public {
        buyAtPar(lost, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payRecord(lost, shop0, 10_000);
        _recover(lost, fresh);
        token.recoverWallet(lost, noPrograms());
        _recover(fresh, stranger);
        token.recoverWallet(fresh, noPrograms());
        cancelPart(shop0, rec, rec.amount);
        assertEq(token.balanceOf(stranger), 100_000, "back to the latest wallet");
    }

    function test_recoverWallet_institution() public {
        address newInstitution_ = newInstitution();
        buy(institution, 1_000_000);
        _recover(institution, newInstitution_);
        token.recoverWallet(institution, noPrograms());
        assertEq(token.balanceOf(newInstitution_), 1_000_000, "moved");
        payRecord(newInstitution_, shop0, 10_000);
    }

    // ================================================================== review findings

    /// @dev The lost key's signed `cancelRecovery`, for the gateway to relay through the
    /// forwarder (the lost key holds no gas).
    function _signedCancel()
        internal
        view
        returns (ERC2771Forwarder.ForwardRequestData memory req)
    {
        req.from = lost;
        req.to = address(registry);
        req.gas = 200_000;
        req.deadline = uint48(block.timestamp + 1 hours);
        req.data = abi.encodeCall(IIdentityRegistry.cancelRecovery, (lost));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(
            lostKey, ForwardRequests.digest(address(forwarder), req, forwarder.nonces(lost))
        );
        req.signature = abi.encodePacked(r, s, v);
    }

    /// @notice Replays a review finding: with A recovered to B and B to C, calling
    /// `recoverWallet(B)` before `recoverWallet(A)` used to move A's balance, books and pockets
    /// into B, frozen for good, where nothing could move them again. `recoverWallet` now follows
    /// the registry's chain to the person's newest wallet.
    function test_chainedRecovery_lostWalletRecoveredLastGoesStraightToTheNewest() public {
        buyAtPar(lost, 100_000);
        programA = singleProgram(lost, 20_000, noCategories());
        _recover(lost, fresh);
        _recover(fresh, stranger);
        token.recoverWallet(fresh, noPrograms()); // B first: empty, to C
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.WalletRecovered(lost, stranger, 100_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PocketRecovered(programA, lost, stranger, 20_000);
        token.recoverWallet(lost, ids1(programA));
        assertEq(token.recoveredTo(lost), stranger, "to the newest wallet");
        assertEq(token.balanceOf(stranger), 100_000, "balance to C");
        assertEq(token.balanceOf(fresh), 0, "nothing stranded in B");
        assertEq(token.balanceOf(lost), 0, "A emptied");
        assertEq(token.pocketOf(programA, stranger), 20_000, "pocket to C");
        assertEq(token.pocketOf(programA, fresh), 0, "no pocket in B");
        (,,,, uint256 face, uint256 paid,) = token.accountOf(stranger);
        assertEq(face, 100_000, "boughtFace to C");
        assertEq(paid, 100_000, "boughtPaid to C");
        (,,,, face, paid,) = token.accountOf(fresh);
        assertEq(face + paid, 0, "no book in B");
        // C can spend and refund it.
        payRecord(stranger, shop0, 85_000);
        vm.prank(stranger);
        (uint256 refunded,) = token.refund();
        assertEq(refunded, 15_000, "C refunds what A bought");
    }

    /// @notice Replays a review finding: `finalizeRecovery` used to complete into a wallet that
    /// had been recovered since the start (or had a recovery of its own pending), so the money
    /// would follow into a frozen wallet. It now reverts `target`; a registrar cancels and
    /// restarts to the right wallet.
    function test_RevertWhen_finalizeRecoveryIntoARecoveredOrPendingWallet() public {
        _start(lost, fresh);
        _start(fresh, stranger); // B is lost too, before A's recovery completes
        vm.warp(block.timestamp + DELAY);
        bytes memory err = abi.encodeWithSelector(
            IIdentityRegistry.IdentityRecoveryInvalid.selector, lost, bytes32("target")
        );
        vm.expectRevert(err); // B has a recovery pending
        registry.finalizeRecovery(lost);
        registry.finalizeRecovery(fresh);
        vm.expectRevert(err); // B has been recovered
        registry.finalizeRecovery(lost);
        assertEq(registry.recoveredTo(lost), address(0), "not recovered");
        vm.prank(operator);
        registry.cancelRecovery(lost);
        _recover(lost, stranger);
        assertEq(registry.recoveredTo(lost), stranger, "restarted to the newest wallet");
    }

    /// @notice Replays a review finding: `finalizeRecovery` used to complete into a wallet a
    /// registrar had frozen since the start. It now reverts `frozen`.
    function test_RevertWhen_finalizeRecoveryIntoAWalletFrozenSince() public {
        _start(lost, fresh);
        vm.prank(operator);
        registry.setFrozen(fresh, true);
        vm.warp(block.timestamp + DELAY);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityRecoveryInvalid.selector, lost, bytes32("frozen")
            )
        );
        registry.finalizeRecovery(lost);
        vm.prank(operator);
        registry.setFrozen(fresh, false);
        registry.finalizeRecovery(lost);
        assertEq(registry.recoveredTo(lost), fresh, "once unfrozen");
    }

    /// @notice Replays a review finding: the lost key could cancel every recovery a registrar
    /// started, so a thief holding the lost phone kept the person's money frozen for ever. The
    /// lost key now vetoes once; the registrar's next recovery only a registrar can cancel.
    function test_cancelRecovery_lostKeyVetoesOnlyOnce() public {
        _start(lost, fresh);
        ERC2771Forwarder.ForwardRequestData memory req = _signedCancel();
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryCancelled(lost, lost);
        vm.prank(address(0x6A7E));
        forwarder.execute(req); // the veto, relayed
        _start(lost, fresh); // the registrar checks the person again and restarts
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityNotAuthorized.selector, lost)
        );
        vm.prank(lost);
        registry.cancelRecovery(lost);
        req = _signedCancel();
        vm.expectRevert(Errors.FailedCall.selector); // the relayed call reverts likewise
        vm.prank(address(0x6A7E));
        forwarder.execute(req);
        (address to,) = registry.pendingRecovery(lost);
        assertEq(to, fresh, "still pending");
        // A registrar still can.
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryCancelled(lost, operator);
        vm.prank(operator);
        registry.cancelRecovery(lost);
        _recover(lost, fresh);
        assertEq(registry.recoveredTo(lost), fresh, "a third recovery completes");
    }

    /// @notice Companion to the finding above: a registrar's own cancellation does not use up
    /// the lost key's one veto.
    function test_cancelRecovery_registrarCancelKeepsTheLostKeysVeto() public {
        _start(lost, fresh);
        vm.prank(operator);
        registry.cancelRecovery(lost);
        _start(lost, fresh);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.RecoveryCancelled(lost, lost);
        vm.prank(lost);
        registry.cancelRecovery(lost);
        _start(lost, fresh);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityNotAuthorized.selector, lost)
        );
        vm.prank(lost);
        registry.cancelRecovery(lost);
    }

    /// @notice Replays a review finding: recovery moved the lost wallet's whole gifts and
    /// cashback counter (`otherIn`), even beyond its balance (spending does not lower it), so
    /// the stale counter hid the new wallet's own bought money from its refund. Only
    /// min(otherIn, balance) moves now.
    function test_recoverWallet_movesOnlyTheGiftsCounterLeftInTheBalance() public {
        buyAtPar(lost, 100_000);
        payRecord(lost, shop0, 100_000); // 10k cashback: balance 10k, all of it other money
        payRecord(lost, shop0, 10_000); // spends the cashback, earns 1k more
        uint256 left = token.balanceOf(lost);
        assertEq(left, 1000, "only the last cashback left");
        buyAtPar(fresh, 20_000);
        _recover(lost, fresh);
        token.recoverWallet(lost, noPrograms());
        assertEq(token.balanceOf(fresh), 21_000, "balance");
        vm.prank(fresh);
        (uint256 face, uint256 cash) = token.refund();
        assertEq(face, 20_000, "the new wallet's own bought money"); // 10k before the fix
        assertEq(cash, 20_000, "at par");
        assertEq(token.balanceOf(fresh), left, "the cashback stays");
    }

    /// @notice Replays a review finding: a recovered institution's new wallet started with no
    /// per-payment or monthly limits. It now keeps the lost wallet's limits and this month's
    /// spending against them.
    function test_recoverWallet_institutionKeepsItsLimits() public {
        address newInstitution_ = newInstitution();
        buy(institution, 1_000_000);
        vm.prank(cityAdmin);
        token.setInstitutionLimits(institution, 100_000, 250_000);
        payRecord(institution, shop0, 100_000);
        _recover(institution, newInstitution_);
        token.recoverWallet(institution, noPrograms());
        IVoucherTypes.InstitutionLimits memory l = token.institutionLimitsOf(newInstitution_);
        assertEq(l.perPayment, 100_000, "perPayment");
        assertEq(l.perMonth, 250_000, "perMonth");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionPaymentCapExceeded.selector, 100_001, 100_000
            )
        );
        vm.prank(newInstitution_);
        token.pay(shop0, 100_001, freshId(), noPrograms());
        payRecord(newInstitution_, shop0, 100_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionMonthlyCapExceeded.selector,
                newInstitution_,
                250_001,
                250_000
            )
        );
        vm.prank(newInstitution_);
        token.pay(shop0, 50_001, freshId(), noPrograms());
        payRecord(newInstitution_, shop0, 50_000);
    }

    /// @notice Companion to the finding above: a new wallet that already had limits of its
    /// own keeps them.
    function test_recoverWallet_institutionWithItsOwnLimitsKeepsThem() public {
        address newInstitution_ = newInstitution();
        buy(institution, 1_000_000);
        vm.startPrank(cityAdmin);
        token.setInstitutionLimits(institution, 100_000, 250_000);
        token.setInstitutionLimits(newInstitution_, 400_000, 0);
        vm.stopPrank();
        _recover(institution, newInstitution_);
        token.recoverWallet(institution, noPrograms());
        IVoucherTypes.InstitutionLimits memory l = token.institutionLimitsOf(newInstitution_);
        assertEq(l.perPayment, 400_000, "its own perPayment");
        assertEq(l.perMonth, 0, "its own perMonth");
        payRecord(newInstitution_, shop0, 300_000);
        payRecord(newInstitution_, shop0, 300_000);
    }

    /// @notice Replays a review finding: after A to B to C, a refund by C counts A's and B's
    /// payments as spent (their refund basis moved to C), so it must close them too, or a
    /// merchant could cancel one afterwards and bypass the refund threshold.
    function test_refundAfterChainedRecoveryClosesEveryEarlierWalletsPayments() public {
        buyAtPar(lost, 100_000);
        IVoucherTypes.PaymentRecord memory recA = payRecord(lost, shop0, 40_000);
        _recover(lost, fresh);
        token.recoverWallet(lost, noPrograms());
        IVoucherTypes.PaymentRecord memory recB = payRecord(fresh, shop0, 40_000);
        _recover(fresh, stranger);
        token.recoverWallet(fresh, noPrograms());
        vm.prank(stranger);
        (uint256 face,) = token.refund();
        assertEq(face, 20_000, "what is left of A's purchase");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentClosedByRefund.selector, lost, 0, 1)
        );
        vm.prank(shop0);
        token.cancelPayment(recA, recA.amount);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentClosedByRefund.selector, fresh, 0, 1)
        );
        vm.prank(shop0);
        token.cancelPayment(recB, recB.amount);
    }
}
