// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {KstCalendar} from "./libraries/KstCalendar.sol";
import {VoucherBase} from "./VoucherBase.sol";

/// @title How a payment moves money: one path for direct, invoice, platform and employee payments
/// @dev Inherited by the core (plain payments, cancellations) and by the services module
/// (platform and employee payments), so every kind of payment runs the same checks and writes
/// the same record. Each contract gets its own copy of this code; both stay under EIP-170.
abstract contract VoucherPayments is VoucherBase {
    /// @dev A payment of `price` by `payer` at `merchant` (through `platform` unless zero).
    function _pay(
        address payer,
        address merchant,
        uint256 price,
        bytes32 paymentId,
        uint256[] memory programIds,
        address platform
    ) internal returns (PaymentRecord memory rec) {
        PayRules memory pr = _payRules();
        (bool citizen, Merchant storage m, uint256 extraBps) = _checkPayment(payer, merchant);
        uint48 gross = _amount(price);
        // Invoices are single use: a non-zero payment id is spent once per merchant. Plain QR
        // payments carry no id and pay nothing for this rule.
        if (paymentId != bytes32(0)) _useInvoice(merchant, paymentId, payer, gross);
        rec.payer = payer;
        rec.paymentId = paymentId;
        rec.programIds = programIds;
        if (extraBps != 0) {
            // The merchant's own discount: the payer is charged less and the merchant receives
            // less; nobody else pays for it.
            rec.extra = gross * extraBps / BPS;
            rec.amount = gross - rec.extra;
        } else {
            rec.amount = gross;
        }
        if (!citizen) _chargeInstitution(payer, merchant, m, rec.amount);
        if (platform != address(0)) {
            rec.platform = platform;
            rec.fee = rec.amount * _platformFeeBps(platform) / BPS;
        }
        _settle(merchant, m, rec, citizen, pr);
        if (rec.extra != 0) m.extraTotal += uint64(rec.extra);
        _emitPayment(merchant, rec);
    }

    /// @dev The region lock and the payer's and merchant's standing, before any state changes
    /// (the pause is checked by `_payRules`, which the payment reads first).
    function _checkPayment(address payer, address merchant)
        internal
        returns (bool citizen, Merchant storage m, uint256 extraBps)
    {
        (IIdentityRegistry.Kind payerKind, IIdentityRegistry.Kind merchantKind) =
            _requireIdentities(payer, merchant);
        if (!_isHolder(payerKind)) revert VoucherEdgeNotAllowed(payer, merchant);
        m = _s().merchants[merchant];
        // Read side by side so that the optimizer loads the merchant's slot once.
        MerchantStatus status = m.status;
        extraBps = m.extraBps;
        if (merchantKind != IIdentityRegistry.Kind.Merchant || status == MerchantStatus.None) {
            revert VoucherNotMerchant(merchant);
        }
        if (status != MerchantStatus.Active) revert VoucherMerchantInactive(merchant, status);
        citizen = payerKind == IIdentityRegistry.Kind.Citizen;
    }

    /// @dev Marks (merchant, invoiceId) paid, checking the invoice's terms when the merchant
    /// opened it beforehand (exact amount, expiry, addressed payer). An invoice never opened on
    /// chain (a dynamic QR code) is single use for its id and amount together: a stranger who
    /// reads the code and pays 1 won with its id first cannot make the real payment fail.
    function _useInvoice(address merchant, bytes32 invoiceId, address payer, uint256 price)
        private
    {
        mapping(bytes32 => Invoice) storage invoices = _s().invoices[merchant];
        Invoice storage inv = invoices[invoiceId];
        InvoiceStatus status = inv.status;
        if (status == InvoiceStatus.None) {
            inv = invoices[keccak256(abi.encode(invoiceId, price))];
            status = inv.status;
        }
        if (status == InvoiceStatus.Paid) revert VoucherInvoiceAlreadyPaid(merchant, invoiceId);
        if (status == InvoiceStatus.Cancelled) revert VoucherInvoiceCancelled(merchant, invoiceId);
        if (status == InvoiceStatus.Open) {
            if (inv.expiry != 0 && block.timestamp >= inv.expiry) {
                revert VoucherInvoiceExpired(merchant, invoiceId, inv.expiry);
            }
            if (inv.amount != 0 && inv.amount != price) {
                revert VoucherInvoiceAmountMismatch(merchant, invoiceId, inv.amount, price);
            }
            if (inv.payer != address(0) && inv.payer != payer) {
                revert VoucherInvoiceWrongPayer(merchant, invoiceId, payer);
            }
        }
        inv.status = InvoiceStatus.Paid;
    }

    function _platformFeeBps(address platform) private returns (uint256) {
        Merchant storage p = _s().merchants[platform];
        if (!p.platform || p.status != MerchantStatus.Active) revert VoucherNotPlatform(platform);
        if (_requireIdentity(platform) != IIdentityRegistry.Kind.Merchant) {
            revert VoucherNotPlatform(platform);
        }
        return p.platformFeeBps;
    }

    /// @dev A public body's payment: the city's blocked categories and per-payment cap, then the
    /// institution's own blocked categories and per-payment and monthly limits.
    function _chargeInstitution(
        address institution,
        address merchant,
        Merchant storage m,
        uint256 amount
    ) private {
        VoucherStorage storage $ = _s();
        uint24 category = m.category;
        if ($.institutionBlocked[category] || $.institutionBlockedFor[institution][category]) {
            revert VoucherCategoryBlocked(merchant, category);
        }
        uint256 cap = _rules().institutionPaymentCap;
        if (cap != 0 && amount > cap) revert VoucherInstitutionPaymentCapExceeded(amount, cap);
        InstitutionLimits storage l = $.institutionLimits[institution];
        if (l.perPayment != 0 && amount > l.perPayment) {
            revert VoucherInstitutionPaymentCapExceeded(amount, l.perPayment);
        }
        if (l.perMonth == 0) return;
        uint24 month = KstCalendar.monthOf(block.timestamp);
        uint256 spent = l.month == month ? l.monthSpent : 0;
        spent += amount;
        if (spent > l.perMonth) {
            revert VoucherInstitutionMonthlyCapExceeded(institution, spent, l.perMonth);
        }
        l.month = month;
        l.monthSpent = uint48(spent);
    }

    /// @dev Moves the money (pockets first, then general), credits cashback, records the payment.
    function _settle(
        address merchant,
        Merchant storage m,
        PaymentRecord memory rec,
        bool citizen,
        PayRules memory r
    ) private {
        VoucherStorage storage $ = _s();
        uint256 remaining = _spendPockets(merchant, m, rec, r.revenueCapTier);
        // The payer's slot is read once and written once: a payment changes up to five of
        // its fields (balance, month, cashback base, other-in, sequence), and separate
        // storage writes cost ~1,000 gas more.
        Account memory a = _loadAccount($.accounts[rec.payer]);
        if (remaining > 0) {
            uint8 capTier = r.revenueCapTier;
            // Read side by side so that the optimizer loads the merchant's slot once.
            uint8 tier = m.tier;
            bool excluded = m.excluded;
            if (tier >= capTier) revert VoucherMerchantOverRevenueCap(merchant, tier, capTier);
            if (excluded) revert VoucherCategoryExcluded(merchant, m.category);
            uint256 balance = a.balance;
            if (balance < remaining) {
                revert VoucherInsufficientBalance(rec.payer, balance, remaining);
            }
            a.balance = uint64(balance - remaining);
            rec.fromGeneral = remaining;
            if (citizen) rec.cashback = _cashback(r, a, tier, remaining);
        }
        uint256 fee = rec.fee;
        $.accounts[merchant].balance += uint64(rec.amount - fee);
        if (fee != 0) $.accounts[rec.platform].balance += uint64(fee);
        uint256 minted = rec.amount - rec.fromGeneral + rec.cashback;
        if (minted > 0) {
            Supply memory supply = $.supply;
            supply.total += uint128(minted);
            supply.cashback += uint64(rec.cashback);
            $.supply = supply;
        }
        uint256 seq = a.paymentSeq;
        a.paymentSeq = uint32(seq + 1);
        _storeAccount($.accounts[rec.payer], a);
        rec.seq = seq;
        $.payments[rec.payer][seq % PAYMENT_RING] = _recordHash(merchant, rec);
    }

    function _emitPayment(address merchant, PaymentRecord memory rec) private {
        uint256 toMerchant = rec.amount - rec.fee;
        // One Transfer per movement of general balance, as an ERC-20 explorer expects: the
        // payer's general money to the merchant, pocket money minted to it, the fee likewise.
        uint256 generalToMerchant = rec.fromGeneral < toMerchant ? rec.fromGeneral : toMerchant;
        if (generalToMerchant > 0) emit IERC20.Transfer(rec.payer, merchant, generalToMerchant);
        if (toMerchant > generalToMerchant) {
            emit IERC20.Transfer(address(0), merchant, toMerchant - generalToMerchant);
        }
        if (rec.platform != address(0)) {
            uint256 generalFee = rec.fromGeneral - generalToMerchant;
            if (generalFee > 0) emit IERC20.Transfer(rec.payer, rec.platform, generalFee);
            if (rec.fee > generalFee) {
                emit IERC20.Transfer(address(0), rec.platform, rec.fee - generalFee);
            }
            emit PlatformPayment(rec.payer, rec.platform, merchant, rec.seq, rec.fee);
        }
        if (rec.cashback > 0) emit IERC20.Transfer(address(0), rec.payer, rec.cashback);
        if (rec.extra > 0) emit MerchantFunded(merchant, rec.payer, rec.seq, rec.extra);
        if (rec.programIds.length == 0) {
            emit Paid(
                rec.payer,
                merchant,
                rec.paymentId,
                rec.seq,
                rec.amount,
                rec.fromGeneral,
                rec.cashback
            );
        } else {
            emit PaidWithPockets(
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
    }

    /// @dev Takes from the named pockets in order; returns what is left for the general pocket.
    function _spendPockets(
        address merchant,
        Merchant storage m,
        PaymentRecord memory rec,
        uint8 capTier
    ) private returns (uint256 remaining) {
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
    function _cashback(PayRules memory r, Account memory a, uint8 tier, uint256 spent)
        private
        view
        returns (uint256 cashback)
    {
        uint256 bps = tier == 0
            ? r.cashbackBpsTier0
            : tier == 1 ? r.cashbackBpsTier1 : tier == 2 ? r.cashbackBpsTier2 : r.cashbackBpsTier3;
        if (bps == 0) return 0;
        uint24 month = KstCalendar.monthOf(block.timestamp);
        if (a.month != month) {
            a.month = uint16(month);
            a.monthPurchased = 0;
            a.monthCashbackBase = 0;
        }
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
        uint256 other = uint256(a.otherIn) + cashback; // saturates, as _addOtherIn does
        a.otherIn = other > type(uint40).max ? type(uint40).max : uint40(other);
    }

    /// @dev Citizens and institutions hold and spend vouchers; merchants only receive payments.
    function _isHolder(IIdentityRegistry.Kind kind) internal pure returns (bool) {
        return kind == IIdentityRegistry.Kind.Citizen || kind == IIdentityRegistry.Kind.Institution;
    }
}
