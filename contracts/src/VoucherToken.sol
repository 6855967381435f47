// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IVoucherCore} from "./interfaces/IVoucherCore.sol";
import {VoucherBase} from "./VoucherBase.sol";
import {VoucherPrograms} from "./VoucherPrograms.sol";

/// @title VoucherToken: one municipality's voucher, behind the network's beacon
/// @notice Sales, payments (region lock, pockets, cashback), cancellations, gifts, redemptions
/// and refunds. Each movement checks its rule first (reverting with the rule's error) and only
/// then changes balances, in the spirit of ERC-3643's read-only compliance checks.
contract VoucherToken is VoucherPrograms {
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
        address module = _adminModule;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }

    /// @notice Called once by the factory through the beacon proxy.
    function initialize(
        uint32 region_,
        string calldata name_,
        string calldata symbol_,
        address admin,
        Rules calldata initialRules
    ) external initializer {
        __AccessControl_init();
        _validateRules(initialRules);
        VoucherStorage storage $ = _s();
        $.region = region_;
        $.name = name_;
        $.symbol = symbol_;
        $.rulesByVersion[1] = initialRules;
        $.rulesVersion = 1;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit MunicipalityInitialized(region_, name_, symbol_, admin);
        emit RulesActivated(1, initialRules);
    }

    // ------------------------------------------------------------------ ERC-20 surface

    function name() external view returns (string memory) {
        return _s().name;
    }

    function symbol() external view returns (string memory) {
        return _s().symbol;
    }

    /// @notice Whole won: vouchers have no fractional unit.
    function decimals() external pure returns (uint8) {
        return 0;
    }

    function totalSupply() external view returns (uint256) {
        return _s().totalSupply;
    }

    function balanceOf(address holder) external view returns (uint256) {
        return _s().accounts[holder].balance;
    }

    function allowance(address, address) external pure returns (uint256) {
        return 0;
    }

    /// @dev Vouchers move only by their holder's own request, so allowances do not exist.
    function approve(address, uint256) external pure returns (bool) {
        revert VoucherUnsupported(IERC20.approve.selector);
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        revert VoucherUnsupported(IERC20.transferFrom.selector);
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
        $.totalSupply += faceAmount;
        emit Transfer(address(0), buyer, faceAmount);
        emit Issued(buyer, _msgSender(), faceAmount, paid);
    }

    // ------------------------------------------------------------------ payments

    /// @inheritdoc IVoucherCore
    function pay(address merchant, uint256 amount, bytes32 paymentId, uint256[] calldata programIds)
        external
        returns (uint256 seq)
    {
        return _pay(_msgSender(), merchant, amount, paymentId, programIds);
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
        return _pay(payer, merchant, amount, paymentId, programIds);
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
            _pay(from, to, amount, bytes32(0), new uint256[](0));
        } else {
            _gift(from, to, amount);
        }
        return true;
    }

    /// @inheritdoc IVoucherCore
    function cancelPayment(PaymentRecord calldata record) external {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        address merchant = _msgSender();
        bytes32 slotHash = $.payments[record.payer][record.seq % PAYMENT_RING];
        if (slotHash != _recordHash(merchant, record)) {
            revert VoucherPaymentNotFound(record.payer, record.seq);
        }
        uint256 refundedAt = $.refundedAtSeq[record.payer];
        if (record.seq < refundedAt) {
            revert VoucherPaymentClosedByRefund(record.payer, record.seq, refundedAt);
        }
        $.payments[record.payer][record.seq % PAYMENT_RING] = CANCELLED;
        _requireIdentities(merchant, record.payer);
        Account storage m = $.accounts[merchant];
        if (m.balance < record.amount) {
            revert VoucherInsufficientBalance(merchant, m.balance, record.amount);
        }
        m.balance -= uint64(record.amount);
        // The payer gets back what left their general pocket, less the cashback it earned. It
        // may take them over the holding cap: it was their money a moment ago, and refusing
        // would leave a merchant unable to undo a sale. Only new money is capped.
        uint256 back = record.fromGeneral - record.cashback;
        $.accounts[record.payer].balance += uint64(back);
        uint256 burned = record.amount - back;
        $.totalSupply -= burned;
        _restorePockets(record);
        if (back > 0) emit Transfer(merchant, record.payer, back);
        if (burned > 0) emit Transfer(merchant, address(0), burned);
        emit PaymentCancelled(record.payer, merchant, record.paymentId, record.seq);
    }

    // ------------------------------------------------------------------ gifts, redemption, refund

    /// @inheritdoc IVoucherCore
    function gift(address to, uint256 amount) external {
        _gift(_msgSender(), to, amount);
    }

    /// @inheritdoc IVoucherCore
    function redeem(uint256 amount, bytes32 ref) external {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        address merchant = _msgSender();
        Merchant storage m = $.merchants[merchant];
        if (m.status == MerchantStatus.None) revert VoucherNotMerchant(merchant);
        if (m.status == MerchantStatus.Cancelled) {
            revert VoucherMerchantInactive(merchant, m.status);
        }
        _requireIdentity(merchant);
        uint48 value = _amount(amount);
        Account storage a = $.accounts[merchant];
        if (a.balance < value) revert VoucherInsufficientBalance(merchant, a.balance, value);
        a.balance -= value;
        $.totalSupply -= value;
        emit Transfer(merchant, address(0), value);
        emit Redeemed(merchant, value, ref);
    }

    /// @inheritdoc IVoucherCore
    function refund() external returns (uint256 face, uint256 cash) {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        address holder = _msgSender();
        if (!_isHolder(_requireIdentity(holder))) revert VoucherEdgeNotAllowed(holder, address(0));
        Book storage b = $.books[holder];
        Account storage a = $.accounts[holder];
        uint256 bought = b.boughtFace;
        uint256 balance = a.balance;
        // Money received as cashback or gifts is taken as spent last, so what is left of
        // the bought money is the balance beyond it.
        uint256 other = a.otherIn < balance ? a.otherIn : balance;
        face = balance - other < bought ? balance - other : bought;
        if (face == 0) revert VoucherNothingToRefund(holder);
        uint256 spentBps = (bought - face) * BPS / bought;
        uint256 required = _rules().refundThresholdBps;
        if (spentBps < required) revert VoucherRefundThresholdNotMet(holder, spentBps, required);
        // Cash back is the remainder at the price paid for it: the discount subsidy stays.
        cash = face * b.boughtPaid / bought;
        b.boughtFace = 0;
        b.boughtPaid = 0;
        $.refundedAtSeq[holder] = a.paymentSeq;
        a.balance = uint64(balance - face);
        a.otherIn = uint40(other);
        $.totalSupply -= face;
        emit Transfer(holder, address(0), face);
        emit Refunded(holder, face, cash);
    }

    // ------------------------------------------------------------------ internals

    function _pay(
        address payer,
        address merchant,
        uint256 amount,
        bytes32 paymentId,
        uint256[] memory programIds
    ) private returns (uint256) {
        (bool citizen, Merchant storage m) = _checkPayment(payer, merchant, amount);
        PaymentRecord memory rec;
        rec.payer = payer;
        rec.paymentId = paymentId;
        rec.amount = _amount(amount);
        rec.programIds = programIds;
        _settle(merchant, m, rec, citizen);
        _emitPayment(merchant, rec);
        return rec.seq;
    }

    /// @dev The region lock and the payer's and merchant's standing, before any state changes.
    function _checkPayment(address payer, address merchant, uint256 amount)
        private
        view
        returns (bool citizen, Merchant storage m)
    {
        _requireNotPaused();
        (IIdentityRegistry.Kind payerKind, IIdentityRegistry.Kind merchantKind) =
            _requireIdentities(payer, merchant);
        if (!_isHolder(payerKind)) revert VoucherEdgeNotAllowed(payer, merchant);
        m = _s().merchants[merchant];
        if (merchantKind != IIdentityRegistry.Kind.Merchant || m.status == MerchantStatus.None) {
            revert VoucherNotMerchant(merchant);
        }
        if (m.status != MerchantStatus.Active) revert VoucherMerchantInactive(merchant, m.status);
        citizen = payerKind == IIdentityRegistry.Kind.Citizen;
        if (!citizen) _checkInstitution(merchant, m, amount);
    }

    /// @dev Moves the money (pockets first, then general), credits cashback, records the payment.
    function _settle(address merchant, Merchant storage m, PaymentRecord memory rec, bool citizen)
        private
    {
        VoucherStorage storage $ = _s();
        uint256 remaining = _spendPockets(merchant, m, rec);
        Account storage a = $.accounts[rec.payer];
        if (remaining > 0) {
            uint8 capTier = _rules().revenueCapTier;
            if (m.tier >= capTier) revert VoucherMerchantOverRevenueCap(merchant, m.tier, capTier);
            uint256 balance = a.balance;
            if (balance < remaining) {
                revert VoucherInsufficientBalance(rec.payer, balance, remaining);
            }
            a.balance = uint64(balance - remaining);
            rec.fromGeneral = remaining;
            if (citizen) rec.cashback = _cashback(a, m.tier, remaining);
        }
        $.accounts[merchant].balance += uint64(rec.amount);
        uint256 minted = rec.amount - rec.fromGeneral + rec.cashback;
        if (minted > 0) $.totalSupply += minted;
        uint256 seq = a.paymentSeq;
        a.paymentSeq = uint32(seq + 1);
        rec.seq = seq;
        $.payments[rec.payer][seq % PAYMENT_RING] = keccak256(abi.encode(merchant, rec));
    }

    function _emitPayment(address merchant, PaymentRecord memory rec) private {
        if (rec.fromGeneral > 0) emit Transfer(rec.payer, merchant, rec.fromGeneral);
        uint256 fromPockets = rec.amount - rec.fromGeneral;
        if (fromPockets > 0) emit Transfer(address(0), merchant, fromPockets);
        if (rec.cashback > 0) emit Transfer(address(0), rec.payer, rec.cashback);
        emit Paid(
            rec.payer,
            merchant,
            rec.paymentId,
            rec.seq,
            rec.amount,
            rec.fromGeneral,
            rec.cashback,
            rec.programIds,
            rec.programAmounts
        );
    }

    /// @dev Takes from the named pockets in order; returns what is left for the general pocket.
    function _spendPockets(address merchant, Merchant storage m, PaymentRecord memory rec)
        private
        returns (uint256 remaining)
    {
        address payer = rec.payer;
        uint256[] memory programIds = rec.programIds;
        remaining = rec.amount;
        rec.programAmounts = new uint256[](programIds.length);
        VoucherStorage storage $ = _s();
        for (uint256 i = 0; i < programIds.length; ++i) {
            uint256 id = programIds[i];
            for (uint256 j = 0; j < i; ++j) {
                if (programIds[j] == id) revert ProgramDuplicatePocket(id);
            }
            Program storage p = _program(id);
            _requireLive(id, p);
            if (!_categoryAllowed(id, p, m.category)) {
                revert ProgramCategoryNotAllowed(id, m.category);
            }
            uint8 capTier = _rules().revenueCapTier;
            if (m.tier >= capTier && !p.revenueCapWaived) {
                revert VoucherMerchantOverRevenueCap(merchant, m.tier, capTier);
            }
            uint256 pocket = $.pockets[id][payer];
            uint256 take = pocket < remaining ? pocket : remaining;
            if (take == 0) continue;
            $.pockets[id][payer] = pocket - take;
            p.spent += uint64(take);
            rec.programAmounts[i] = take;
            remaining -= take;
        }
    }

    /// @dev Cashback by merchant tier on general spending, up to the monthly base, never
    /// pushing the payer over the holding cap.
    function _cashback(Account storage a, uint8 tier, uint256 spent)
        private
        returns (uint256 cashback)
    {
        Rules storage r = _rules();
        uint256 bps = tier == 0
            ? r.cashbackBpsTier0
            : tier == 1 ? r.cashbackBpsTier1 : tier == 2 ? r.cashbackBpsTier2 : r.cashbackBpsTier3;
        if (bps == 0) return 0;
        _rollAccount(a);
        uint256 used = a.monthCashbackBase;
        uint256 room = r.cashbackMonthlyBase > used ? r.cashbackMonthlyBase - used : 0;
        uint256 base = spent < room ? spent : room;
        if (base == 0) return 0;
        a.monthCashbackBase = uint48(used + base);
        cashback = base * bps / BPS;
        uint256 cap = r.holdingCap;
        uint256 balance = a.balance;
        if (balance + cashback > cap) cashback = cap > balance ? cap - balance : 0;
        a.balance = uint64(balance + cashback);
        _addOtherIn(a, cashback);
    }

    function _checkInstitution(address merchant, Merchant storage m, uint256 amount) private view {
        VoucherStorage storage $ = _s();
        if ($.institutionBlocked[m.category]) revert VoucherCategoryBlocked(merchant, m.category);
        uint256 cap = _rules().institutionPaymentCap;
        if (cap != 0 && amount > cap) revert VoucherInstitutionPaymentCapExceeded(amount, cap);
    }

    /// @dev Program money goes back to its pocket while the program is live; otherwise it
    /// returns to the budget (an open program's `spent` drops) or, once closed, is only burned.
    function _restorePockets(PaymentRecord calldata record) private {
        VoucherStorage storage $ = _s();
        for (uint256 i = 0; i < record.programIds.length; ++i) {
            uint256 value = record.programAmounts[i];
            if (value == 0) continue;
            uint256 id = record.programIds[i];
            Program storage p = $.programs[id];
            if (p.closed) continue;
            p.spent -= uint64(value);
            if (block.timestamp < p.expiry) $.pockets[id][record.payer] += value;
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

    /// @dev Citizens and institutions hold and spend vouchers; merchants only receive payments.
    function _isHolder(IIdentityRegistry.Kind kind) private pure returns (bool) {
        return kind == IIdentityRegistry.Kind.Citizen || kind == IIdentityRegistry.Kind.Institution;
    }
}
