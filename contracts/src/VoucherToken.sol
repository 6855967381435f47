// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {IVoucherCore} from "./interfaces/IVoucherCore.sol";
import {VoucherBase} from "./VoucherBase.sol";
import {VoucherPayments} from "./VoucherPayments.sol";
import {VoucherPrograms} from "./VoucherPrograms.sol";

/// @title VoucherToken: one municipality's voucher, behind the network's beacon
/// @notice Sales, payments (region lock, pockets, cashback), cancellations, gifts, redemptions
/// and refunds. Each movement checks its rule first (reverting with the rule's error) and only
/// then changes balances, in the spirit of ERC-3643's read-only compliance checks.
contract VoucherToken is VoucherPrograms, VoucherPayments {
    /// @dev The admin half (rules, merchants, programs' lifecycle, views), run by delegatecall.
    address private immutable _adminModule;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address forwarder, IIdentityRegistry registry_, address adminModule_)
        VoucherBase(forwarder, registry_)
    {
        _adminModule = adminModule_;
        _disableInitializers();
    }

    /// @notice The admin module this implementation delegates unknown selectors to.
    function adminModule() external view returns (address) {
        return _adminModule;
    }

    /// @dev Every selector this contract lacks runs in the admin module, in this storage and
    /// with this caller, so both halves read one ERC-7201 namespace and one set of roles.
    fallback() external {
        _delegate(_adminModule);
    }

    // ------------------------------------------------------------------ ERC-20 surface

    function totalSupply() external view returns (uint256) {
        return _s().supply.total;
    }

    function balanceOf(address holder) external view returns (uint256) {
        return _s().accounts[holder].balance;
    }

    // ------------------------------------------------------------------ sales

    /// @inheritdoc IVoucherCore
    function issue(address buyer, uint256 face, uint256 paid) external onlyRole(ISSUER_ROLE) {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        IIdentityRegistry.Kind kind = _requireIdentity(buyer);
        if (!_isHolder(kind)) revert VoucherEdgeNotAllowed(address(0), buyer);
        uint48 faceAmount = _amount(face);
        Rules storage r = _rules();
        if (paid > face) {
            revert VoucherDiscountOutOfBounds(face, paid, r.minDiscountBps, r.maxDiscountBps);
        }
        // Compared without rounding: (face - paid) / face within [min, max] basis points.
        uint256 scaledDiscount = (face - paid) * BPS;
        if (scaledDiscount < face * r.minDiscountBps || scaledDiscount > face * r.maxDiscountBps) {
            revert VoucherDiscountOutOfBounds(face, paid, r.minDiscountBps, r.maxDiscountBps);
        }
        Account storage a = $.accounts[buyer];
        _rollAccount(a);
        if (kind == IIdentityRegistry.Kind.Citizen) {
            // Institutions buy for public expenses; the per-person caps are for citizens.
            uint256 purchased = uint256(a.monthPurchased) + faceAmount;
            if (purchased > r.monthlyPurchaseCap) {
                revert VoucherMonthlyPurchaseCapExceeded(buyer, purchased, r.monthlyPurchaseCap);
            }
            _requireHoldingRoom(buyer, a.balance, faceAmount);
        }
        a.monthPurchased += faceAmount;
        a.balance += faceAmount;
        Book storage b = $.books[buyer];
        b.boughtFace += faceAmount;
        b.boughtPaid += uint64(paid);
        Supply memory supply = $.supply;
        supply.total += faceAmount;
        supply.subsidy += uint64(faceAmount - paid);
        $.supply = supply;
        emit Transfer(address(0), buyer, faceAmount);
        emit Issued(buyer, _msgSender(), faceAmount, paid);
    }

    // ------------------------------------------------------------------ payments

    /// @inheritdoc IVoucherCore
    function pay(address merchant, uint256 amount, bytes32 paymentId, uint256[] calldata programIds)
        external
        returns (uint256 seq)
    {
        return _pay(_msgSender(), merchant, amount, paymentId, programIds, address(0)).seq;
    }

    // ------------------------------------------------------------------ signed payments

    /// @inheritdoc IVoucherCore
    /// @dev The replay nonce is the payer's payment sequence, in the account slot the payment
    /// reads and writes anyway: no forwarder hop, no nonce slot of its own. Checks the cheap
    /// fields first, then the signature, then hands over to `_pay`, the path of `pay` itself.
    function payBySig(SignedPayment calldata payment, PaymentSignature calldata signature)
        external
        returns (uint256 seq)
    {
        address payer = payment.payer;
        if (block.timestamp > payment.deadline) {
            revert VoucherSignedPaymentExpired(payer, payment.deadline);
        }
        uint256 expected = _s().accounts[payer].paymentSeq;
        if (payment.nonce != expected) {
            revert VoucherInvalidPaymentNonce(payer, expected, payment.nonce);
        }
        // tryRecover never yields address(0), so a zero payer cannot match a garbage
        // signature; the compact form leaves no room for a high-s (malleable) twin.
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(_signedPaymentDigest(payment), signature.r, signature.vs);
        if (err != ECDSA.RecoverError.NoError || signer != payer) {
            revert VoucherInvalidPaymentSignature(payer);
        }
        return _pay(
            payer,
            payment.merchant,
            payment.amount,
            payment.paymentId,
            payment.programIds,
            address(0)
        )
        .seq;
    }

    /// @inheritdoc IVoucherCore
    /// @dev Each payment runs as an external self-call so that its revert undoes only its own
    /// writes; the call goes through the proxy (`this` is the proxy under delegatecall) with
    /// the proxy as `msg.sender`, never the forwarder, so ERC-2771 sender parsing cannot be fed
    /// this batch's calldata.
    function payBySigBatch(
        SignedPayment[] calldata payments,
        PaymentSignature[] calldata signatures
    ) external returns (uint256 paidCount) {
        uint256 n = payments.length;
        if (signatures.length != n) revert VoucherBatchLengthMismatch(n, signatures.length);
        for (uint256 i = 0; i < n; ++i) {
            try this.payBySig(payments[i], signatures[i]) {
                ++paidCount;
            } catch (bytes memory reason) {
                emit SignedPaymentSkipped(payments[i].payer, payments[i].nonce, reason);
            }
        }
    }

    /// @dev EIP-712 digest of `payment` under this proxy's domain. Built per call rather than
    /// cached as OpenZeppelin's EIP712 does: its cache is the shared implementation's address
    /// (never the proxy's), and its name fallback would add unnamespaced storage variables.
    function _signedPaymentDigest(SignedPayment calldata payment) private view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                PAYMENT_DOMAIN_TYPEHASH,
                keccak256(bytes(PAYMENT_DOMAIN_NAME)),
                keccak256(bytes(PAYMENT_DOMAIN_VERSION)),
                block.chainid,
                address(this)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                SIGNED_PAYMENT_TYPE_HASH,
                payment.payer,
                payment.merchant,
                payment.amount,
                payment.paymentId,
                keccak256(abi.encodePacked(payment.programIds)),
                payment.nonce,
                payment.deadline
            )
        );
        return MessageHashUtils.toTypedDataHash(domain, structHash);
    }

    /// @inheritdoc IVoucherCore
    function claimAndPay(
        uint256 programId,
        uint256 index,
        uint256 grantAmount,
        bytes32[] calldata proof,
        address merchant,
        uint256 amount,
        bytes32 paymentId,
        uint256[] calldata programIds
    ) external returns (uint256 seq) {
        _requireNotPaused();
        address payer = _msgSender();
        _claim(programId, payer, index, grantAmount, proof);
        return _pay(payer, merchant, amount, paymentId, programIds, address(0)).seq;
    }

    /// @notice ERC-20 transfer, routed through the same rules: to a merchant it is a payment
    /// from the general pocket, to a citizen it is a gift; every other edge reverts.
    function transfer(address to, uint256 amount) external returns (bool) {
        address from = _msgSender();
        // ERC-20 treats a zero-value transfer as a normal transfer: it moves nothing, so it is
        // a no-op with its event (payments and gifts of 0 still revert VoucherInvalidAmount).
        if (amount == 0) {
            emit Transfer(from, to, 0);
            return true;
        }
        if (_s().merchants[to].status != MerchantStatus.None) {
            _pay(from, to, amount, bytes32(0), new uint256[](0), address(0));
        } else {
            _gift(from, to, amount);
        }
        return true;
    }

    /// @inheritdoc IVoucherCore
    function cancelPayment(PaymentRecord calldata record, uint256 amount) external {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        address merchant = _msgSender();
        address payer = record.payer;
        // The one memory copy of the presented record: checked against the ring, then, on a
        // partial cancel, turned into the remainder's record (a second copy cost ~1,650 gas).
        PaymentRecord memory rec = record;
        if (!_isOnRecord(merchant, rec)) {
            revert VoucherPaymentNotFound(payer, record.seq);
        }
        uint256 refundedAt = $.refundedAtSeq[payer];
        if (record.seq < refundedAt) {
            revert VoucherPaymentClosedByRefund(payer, record.seq, refundedAt);
        }
        uint256 before = record.cancelled;
        uint256 upTo = before + amount;
        if (amount == 0 || upTo > record.amount) {
            revert VoucherCancelExceedsPayment(payer, record.seq, upTo, record.amount);
        }
        // The slot is not kept in a local: the copy above took the last free stack slot.
        if (upTo == record.amount) {
            $.payments[payer][record.seq % PAYMENT_RING] = CANCELLED;
        } else {
            rec.cancelled = upTo;
            $.payments[payer][record.seq % PAYMENT_RING] = _recordHash(merchant, rec);
        }
        // A recovered wallet's cancellations go to the person's newest wallet.
        address to = payer;
        for (address next = $.recoveredTo[to]; next != address(0); next = $.recoveredTo[to]) {
            to = next;
        }
        _requireIdentities(merchant, to);
        CancelParts memory parts = _cancelParts(record, before, upTo);
        // A platform that has redeemed its fee cannot block the refund: the shop pays it all.
        if (parts.fee > 0 && $.accounts[record.platform].balance < parts.fee) parts.fee = 0;
        _takeBack(merchant, amount - parts.fee);
        if (parts.fee > 0) _takeBack(record.platform, parts.fee);
        // The payer gets back what left their general pocket, less the cashback it earned. It
        // may take them over the holding cap: it was their money a moment ago, and refusing
        // would leave a merchant unable to undo a sale. Only new money is capped.
        uint256 back = parts.general - parts.cashback;
        $.accounts[to].balance += uint64(back);
        _burnCancelled(amount - back, parts.cashback);
        if (parts.extra > 0) $.merchants[merchant].extraTotal -= uint64(parts.extra);
        _restorePockets(record, to, parts.pockets);
        _emitCancelTransfers(record, merchant, to, amount, back, parts.fee);
        emit PaymentCancelled(
            payer,
            merchant,
            record.paymentId,
            record.seq,
            amount,
            upTo,
            parts.general,
            parts.cashback,
            parts.fee,
            parts.pockets
        );
    }

    // ------------------------------------------------------------------ gifts, redemption, refund

    /// @inheritdoc IVoucherCore
    function gift(address to, uint256 amount) external {
        _gift(_msgSender(), to, amount);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Where a cancelled payment's money goes back, part by part.
    struct CancelParts {
        uint256 general; // back to the general pocket, before the cashback is taken back
        uint256 cashback; // cashback taken back (burned)
        uint256 fee; // the platform's share of the cancelled amount
        uint256 extra; // the merchant-funded discount on the cancelled amount
        uint256[] pockets; // back to each program pocket, in the record's order
    }

    /// @dev Splits the cancelled range (`before`, `upTo`] of a payment. Cumulative parts are
    /// monotone integer functions of the cancelled total that reach each component exactly at
    /// the full amount, so any sequence of partial cancellations returns exactly the payment,
    /// with no rounding drift. General money goes back first (the payer's own, never expiring),
    /// then pockets, last spent first; cashback, fee and extra in proportion.
    function _cancelParts(PaymentRecord calldata r, uint256 before, uint256 upTo)
        private
        pure
        returns (CancelParts memory parts)
    {
        uint256 fromGeneral = r.fromGeneral;
        uint256 g0 = before < fromGeneral ? before : fromGeneral;
        uint256 g1 = upTo < fromGeneral ? upTo : fromGeneral;
        parts.general = g1 - g0;
        if (fromGeneral != 0) {
            parts.cashback = r.cashback * g1 / fromGeneral - r.cashback * g0 / fromGeneral;
        }
        uint256 total = r.amount;
        parts.fee = r.fee * upTo / total - r.fee * before / total;
        parts.extra = r.extra * upTo / total - r.extra * before / total;
        uint256 n = r.programAmounts.length;
        parts.pockets = new uint256[](n);
        // Pocket money cancelled so far (cumulative), handed to pockets from the last one.
        uint256 p0 = before - g0;
        uint256 p1 = upTo - g1;
        for (uint256 i = n; i > 0 && p1 > 0; --i) {
            uint256 spent = r.programAmounts[i - 1];
            uint256 c0 = p0 < spent ? p0 : spent;
            uint256 c1 = p1 < spent ? p1 : spent;
            parts.pockets[i - 1] = c1 - c0;
            p0 -= c0;
            p1 -= c1;
        }
    }

    /// @dev What a cancellation burns (pocket money and the cashback taken back) leaves the
    /// supply; the cashback leaves the funders' running total, booked when it happens.
    function _burnCancelled(uint256 burned, uint256 cashback) private {
        Supply memory supply = _s().supply;
        supply.total -= uint128(burned);
        supply.cashback -= uint64(cashback);
        _s().supply = supply;
    }

    /// @dev Takes the cancelled amount back from the shop (and the platform its fee share).
    function _takeBack(address from, uint256 amount) private {
        Account storage a = _s().accounts[from];
        if (a.balance < amount) revert VoucherInsufficientBalance(from, a.balance, amount);
        a.balance -= uint64(amount);
    }

    function _emitCancelTransfers(
        PaymentRecord calldata r,
        address merchant,
        address to,
        uint256 amount,
        uint256 back,
        uint256 fee
    ) private {
        uint256 merchantPart = amount - fee;
        uint256 fromMerchant = back < merchantPart ? back : merchantPart;
        if (fromMerchant > 0) emit Transfer(merchant, to, fromMerchant);
        if (merchantPart > fromMerchant) {
            emit Transfer(merchant, address(0), merchantPart - fromMerchant);
        }
        if (fee > 0) {
            uint256 fromPlatform = back - fromMerchant;
            if (fromPlatform > 0) emit Transfer(r.platform, to, fromPlatform);
            if (fee > fromPlatform) emit Transfer(r.platform, address(0), fee - fromPlatform);
        }
    }

    /// @dev Program money goes back to its pocket while the program is live; otherwise it
    /// returns to the budget (an open program's `spent` drops) or, once closed, is only burned.
    function _restorePockets(PaymentRecord calldata record, address to, uint256[] memory parts)
        private
    {
        VoucherStorage storage $ = _s();
        for (uint256 i = 0; i < parts.length; ++i) {
            uint256 value = parts[i];
            if (value == 0) continue;
            uint256 id = record.programIds[i];
            Program storage p = $.programs[id];
            if (p.closed) continue;
            p.spent -= uint64(value);
            if (block.timestamp < p.expiry) $.pockets[id][to] += value;
        }
    }

    function _gift(address from, address to, uint256 amount) private {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        (IIdentityRegistry.Kind fromKind, IIdentityRegistry.Kind toKind) =
            _requireIdentities(from, to);
        if (fromKind != IIdentityRegistry.Kind.Citizen || toKind != IIdentityRegistry.Kind.Citizen)
        {
            revert VoucherEdgeNotAllowed(from, to);
        }
        if (from == to) revert VoucherSelfGift(from);
        Rules storage r = _rules();
        if (!r.giftEnabled) revert VoucherGiftDisabled();
        uint48 value = _amount(amount);
        Book storage sender = $.books[from];
        Book storage receiver = $.books[to];
        _rollBook(sender);
        _rollBook(receiver);
        uint256 sent = uint256(sender.giftSent) + value;
        if (sent > r.giftSendCap) revert VoucherGiftSendCapExceeded(from, sent, r.giftSendCap);
        uint256 received = uint256(receiver.giftReceived) + value;
        if (received > r.giftReceiveCap) {
            revert VoucherGiftReceiveCapExceeded(to, received, r.giftReceiveCap);
        }
        Account storage a = $.accounts[from];
        Account storage b = $.accounts[to];
        if (a.balance < value) revert VoucherInsufficientBalance(from, a.balance, value);
        _requireHoldingRoom(to, b.balance, value);
        sender.giftSent = uint48(sent);
        receiver.giftReceived = uint48(received);
        _giveAwayBought(sender, a, value);
        a.balance -= value;
        b.balance += value;
        _addOtherIn(b, value);
        emit Transfer(from, to, value);
        emit Gifted(from, to, value);
    }

    /// @dev A gift leaves the sender's refund basis: it is not spending, so it must not count
    /// towards the refund threshold. Bought money goes first (as refund() assumes), and the
    /// price paid leaves with it in proportion.
    function _giveAwayBought(Book storage b, Account storage a, uint256 value) private {
        uint256 bought = b.boughtFace;
        if (bought == 0) return;
        uint256 balance = a.balance;
        uint256 other = a.otherIn < balance ? a.otherIn : balance;
        uint256 left = balance - other < bought ? balance - other : bought;
        uint256 given = value < left ? value : left;
        if (given == 0) return;
        b.boughtPaid = uint64(b.boughtPaid - b.boughtPaid * given / bought);
        b.boughtFace = uint64(bought - given);
    }
}
