// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {IVoucherServices} from "./interfaces/IVoucherServices.sol";
import {KstCalendar} from "./libraries/KstCalendar.sol";
import {VoucherPayments} from "./VoucherPayments.sol";
import {VoucherBase} from "./VoucherBase.sol";

/// @title VoucherServices: invoices, platform and employee payments, rewards, recovery
/// @notice Runs only by delegatecall from the admin module (itself delegatecalled by a
/// VoucherToken proxy), in the proxy's storage and with the proxy's caller. A third contract
/// because the core and the admin module are each near the EIP-170 code-size limit.
contract VoucherServices is IVoucherServices, VoucherPayments {
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant REWARD_TYPEHASH = keccak256(
        "Reward(uint256 programId,bytes32 attestationId,address recipient,uint256 amount)"
    );
    bytes32 private constant DOMAIN_NAME = keccak256("Dongne Reward");
    bytes32 private constant DOMAIN_VERSION = keccak256("1");

    constructor(address forwarder, IIdentityRegistry registry_) VoucherBase(forwarder, registry_) {
        _disableInitializers();
    }

    // ------------------------------------------------------------------ ERC-20 metadata
    // Here rather than in the core, which has no code-size room left; wallets read them once.

    function name() external view returns (string memory) {
        return _s().name;
    }

    function symbol() external view returns (string memory) {
        return _s().symbol;
    }

    function decimals() external pure returns (uint8) {
        return 0;
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

    // ------------------------------------------------------------------ invoices

    /// @inheritdoc IVoucherServices
    function createInvoice(bytes32 invoiceId, address payer, uint256 amount, uint40 expiry)
        external
    {
        address merchant = _activeMerchant();
        // Id 0 marks a plain payment, which is never an invoice.
        if (invoiceId == bytes32(0)) revert VoucherInvalidTerms("invoiceId");
        if (amount > type(uint48).max) revert VoucherInvalidAmount(amount);
        if (expiry != 0 && expiry <= block.timestamp) {
            revert VoucherInvoiceExpired(merchant, invoiceId, expiry);
        }
        Invoice storage inv = _s().invoices[merchant][invoiceId];
        if (inv.status != InvoiceStatus.None) revert VoucherInvoiceExists(merchant, invoiceId);
        inv.amount = uint48(amount);
        inv.expiry = expiry;
        inv.payer = payer;
        inv.status = InvoiceStatus.Open;
        emit InvoiceCreated(merchant, invoiceId, payer, amount, expiry);
    }

    /// @inheritdoc IVoucherServices
    function cancelInvoice(bytes32 invoiceId) external {
        address merchant = _msgSender();
        Invoice storage inv = _s().invoices[merchant][invoiceId];
        if (inv.status != InvoiceStatus.Open) revert VoucherInvoiceNotOpen(merchant, invoiceId);
        inv.status = InvoiceStatus.Cancelled;
        emit InvoiceCancelled(merchant, invoiceId);
    }

    /// @inheritdoc IVoucherServices
    function isInvoicePaid(address merchant, bytes32 invoiceId, uint256 amount)
        external
        view
        returns (bool)
    {
        mapping(bytes32 => Invoice) storage invoices = _s().invoices[merchant];
        InvoiceStatus status = invoices[invoiceId].status;
        if (status == InvoiceStatus.None) {
            status = invoices[keccak256(abi.encode(invoiceId, amount))].status;
        }
        return status == InvoiceStatus.Paid;
    }

    function invoiceOf(address merchant, bytes32 invoiceId) external view returns (Invoice memory) {
        return _s().invoices[merchant][invoiceId];
    }

    // ------------------------------------------------------------------ payments

    /// @inheritdoc IVoucherServices
    function payThroughPlatform(
        address platform,
        address shop,
        uint256 amount,
        bytes32 paymentId,
        uint256[] calldata programIds
    ) external returns (uint256 seq) {
        if (platform == address(0) || platform == shop) {
            revert VoucherNotPlatform(platform);
        }
        PaymentRecord memory rec = _pay(_msgSender(), shop, amount, paymentId, programIds, platform);
        if (rec.fromGeneral > 0 && rec.fee > 0) {
            // Purchased money reaches the platform too, so the platform must be able to take it.
            Merchant storage p = _s().merchants[platform];
            uint8 capTier = _payRules().revenueCapTier; // the slot the payment warmed
            if (p.tier >= capTier) revert VoucherMerchantOverRevenueCap(platform, p.tier, capTier);
            if (p.excluded) revert VoucherCategoryExcluded(platform, p.category);
        }
        return rec.seq;
    }

    /// @inheritdoc IVoucherServices
    function setEmployee(address employee, uint40 monthlyLimit) external {
        _requireNotPaused();
        address institution = _msgSender();
        if (_requireIdentity(institution) != IIdentityRegistry.Kind.Institution) {
            revert VoucherNotInstitution(institution);
        }
        Employee storage e = _s().employees[employee];
        if (e.institution != address(0) && e.institution != institution) {
            revert VoucherNotEmployee(employee, institution);
        }
        if (monthlyLimit == 0) {
            delete _s().employees[employee];
        } else {
            if (_requireIdentity(employee) != IIdentityRegistry.Kind.Citizen) {
                revert VoucherEdgeNotAllowed(institution, employee);
            }
            e.institution = institution;
            e.monthlyLimit = monthlyLimit;
        }
        emit EmployeeSet(institution, employee, monthlyLimit);
    }

    /// @inheritdoc IVoucherServices
    function payAsEmployee(address institution, address merchant, uint256 amount, bytes32 paymentId)
        external
        returns (uint256 seq)
    {
        address employee = _msgSender();
        Employee storage e = _s().employees[employee];
        if (e.institution != institution || institution == address(0)) {
            revert VoucherNotEmployee(employee, institution);
        }
        _requireIdentity(employee);
        PaymentRecord memory rec =
            _pay(institution, merchant, amount, paymentId, new uint256[](0), address(0));
        // The employee's limit counts what left the institution (after any merchant discount).
        uint16 month = uint16(KstCalendar.monthOf(block.timestamp));
        uint256 spent = (e.month == month ? e.monthSpent : 0) + rec.amount;
        if (spent > e.monthlyLimit) {
            revert VoucherEmployeeLimitExceeded(employee, spent, e.monthlyLimit);
        }
        e.month = month;
        e.monthSpent = uint40(spent);
        emit EmployeePayment(institution, employee, rec.seq, rec.amount);
        return rec.seq;
    }

    function employeeOf(address employee) external view returns (Employee memory) {
        return _s().employees[employee];
    }

    // ------------------------------------------------------------------ redemption, refunds

    /// @inheritdoc IVoucherServices
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
        $.supply.total -= uint128(value);
        emit IERC20.Transfer(merchant, address(0), value);
        emit Redeemed(merchant, value, ref);
    }

    /// @inheritdoc IVoucherServices
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
        _closeRecovered(holder);
        a.balance = uint64(balance - face);
        a.otherIn = uint40(other);
        $.supply.total -= uint128(face);
        emit IERC20.Transfer(holder, address(0), face);
        emit Refunded(holder, face, cash);
    }

    // ------------------------------------------------------------------ rewards

    /// @inheritdoc IVoucherServices
    function createRewardProgram(RewardParams calldata params)
        external
        onlyRole(PROGRAM_MANAGER_ROLE)
        returns (uint256 programId)
    {
        if (params.budget == 0) revert ProgramInvalidParams("budget");
        if (params.start >= params.expiry) revert ProgramInvalidParams("window");
        if (params.expiry <= block.timestamp) revert ProgramInvalidParams("expiry");
        VoucherStorage storage $ = _s();
        programId = ++$.programCount;
        $.programs[programId] = Program({
            root: REWARD_ROOT,
            budget: params.budget,
            granted: 0,
            spent: 0,
            start: params.start,
            expiry: params.expiry,
            revenueCapWaived: params.revenueCapWaived,
            anyCategory: params.categories.length == 0,
            closed: false
        });
        for (uint256 i = 0; i < params.categories.length; ++i) {
            $.programCategories[programId][params.categories[i]] = true;
        }
        $.rewardPolicies[programId] = RewardPolicy(params.dailyCap, params.monthlyCap);
        emit ProgramCreated(
            programId,
            REWARD_ROOT,
            params.budget,
            params.start,
            params.expiry,
            params.revenueCapWaived,
            params.categories,
            params.ref
        );
        emit RewardProgramCreated(programId, params.dailyCap, params.monthlyCap);
    }

    /// @inheritdoc IVoucherServices
    function claimReward(uint256 programId, Reward calldata reward, bytes calldata signature)
        external
        returns (uint256 paid)
    {
        _requireNotPaused();
        Program storage p = _rewardProgram(programId);
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecover(_rewardDigest(programId, reward), signature);
        if (err != ECDSA.RecoverError.NoError || !hasRole(REWARDER_ROLE, signer)) {
            revert RewardInvalidSignature(programId, reward.attestationId);
        }
        VoucherStorage storage $ = _s();
        if ($.rewardsPaid[programId][reward.attestationId]) {
            revert RewardAlreadyPaid(programId, reward.attestationId);
        }
        paid = _payReward(programId, p, reward);
        if (paid == 0) revert RewardCapReached(programId, reward.recipient);
    }

    /// @inheritdoc IVoucherServices
    function rewardBatch(uint256 programId, Reward[] calldata rewards)
        external
        onlyRole(REWARDER_ROLE)
        returns (uint256 paidCount)
    {
        _requireNotPaused();
        if (rewards.length == 0) revert ProgramEmptyBatch(programId);
        Program storage p = _rewardProgram(programId);
        mapping(bytes32 => bool) storage used = _s().rewardsPaid[programId];
        for (uint256 i = 0; i < rewards.length; ++i) {
            if (used[rewards[i].attestationId]) continue;
            if (_payReward(programId, p, rewards[i]) > 0) ++paidCount;
        }
    }

    function rewardDigest(uint256 programId, Reward calldata reward)
        external
        view
        returns (bytes32)
    {
        return _rewardDigest(programId, reward);
    }

    function isRewardPaid(uint256 programId, bytes32 attestationId) external view returns (bool) {
        return _s().rewardsPaid[programId][attestationId];
    }

    function rewardPolicyOf(uint256 programId)
        external
        view
        returns (uint256 dailyCap, uint256 monthlyCap)
    {
        RewardPolicy storage policy = _s().rewardPolicies[programId];
        return (policy.dailyCap, policy.monthlyCap);
    }

    function rewardsOf(uint256 programId, address holder)
        external
        view
        returns (uint256 today, uint256 thisMonth)
    {
        RewardCounter storage c = _s().rewardCounters[programId][holder];
        today = c.day == KstCalendar.dayOf(block.timestamp) ? c.dayTotal : 0;
        thisMonth = c.month == KstCalendar.monthOf(block.timestamp) ? c.monthTotal : 0;
    }

    /// @dev Cuts the reward to the person's caps and the budget, uses its attestation id and
    /// credits the pocket. Returns what was paid (0 when nothing was left).
    function _payReward(uint256 programId, Program storage p, Reward calldata reward)
        private
        returns (uint256 paid)
    {
        VoucherStorage storage $ = _s();
        RewardPolicy storage policy = $.rewardPolicies[programId];
        RewardCounter storage c = $.rewardCounters[programId][reward.recipient];
        uint32 day = KstCalendar.dayOf(block.timestamp);
        uint24 month = KstCalendar.monthOf(block.timestamp);
        uint256 dayTotal = c.day == day ? c.dayTotal : 0;
        uint256 monthTotal = c.month == month ? c.monthTotal : 0;
        paid = reward.amount;
        paid = _within(paid, policy.dailyCap, dayTotal);
        paid = _within(paid, policy.monthlyCap, monthTotal);
        paid = _within(paid, p.budget, p.granted);
        $.rewardsPaid[programId][reward.attestationId] = true;
        c.day = day;
        c.month = month;
        c.dayTotal = uint48(dayTotal + paid);
        c.monthTotal = uint48(monthTotal + paid);
        p.granted += uint64(paid);
        $.pockets[programId][reward.recipient] += paid;
        emit Rewarded(programId, reward.recipient, reward.attestationId, paid);
    }

    /// @dev `amount` cut to what `cap` leaves after `used` (a cap of 0 is no cap).
    function _within(uint256 amount, uint256 cap, uint256 used) private pure returns (uint256) {
        if (cap == 0) return amount;
        uint256 room = cap > used ? cap - used : 0;
        return amount < room ? amount : room;
    }

    function _rewardProgram(uint256 programId) private view returns (Program storage p) {
        p = _program(programId);
        if (p.root != REWARD_ROOT) revert RewardNotRewardProgram(programId);
        _requireLive(programId, p);
    }

    /// @dev EIP-712 over the proxy's own address, so an attestation pays in one city only.
    function _rewardDigest(uint256 programId, Reward calldata reward)
        private
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, DOMAIN_NAME, DOMAIN_VERSION, block.chainid, address(this))
        );
        bytes32 structHash = keccak256(
            abi.encode(
                REWARD_TYPEHASH, programId, reward.attestationId, reward.recipient, reward.amount
            )
        );
        return MessageHashUtils.toTypedDataHash(domain, structHash);
    }

    // ------------------------------------------------------------------ recovery

    /// @inheritdoc IVoucherServices
    function recoverWallet(address lost, uint256[] calldata programIds) external {
        _requireNotPaused();
        VoucherStorage storage $ = _s();
        // To the person's newest wallet: a wallet recovered again since (A to B, then B to C)
        // is frozen, and money moved into it would be stuck there.
        address to = _registry.recoveredTo(lost);
        if (to == address(0)) revert VoucherNotRecovered(lost);
        for (
            address next = _registry.recoveredTo(to);
            next != address(0);
            next = _registry.recoveredTo(to)
        ) {
            to = next;
        }
        if ($.recoveredTo[lost] == address(0)) {
            $.recoveredTo[lost] = to;
            $.recoveredFrom[to].push(lost);
            _moveGeneral(lost, to);
        }
        for (uint256 i = 0; i < programIds.length; ++i) {
            uint256 id = programIds[i];
            uint256 pocket = $.pockets[id][lost];
            if (pocket == 0) continue;
            $.pockets[id][lost] = 0;
            $.pockets[id][to] += pocket;
            emit PocketRecovered(id, lost, to, pocket);
        }
    }

    /// @dev A refund counts the payments of wallets recovered into the holder as spent (their
    /// refund basis moved with them), so it closes those payments too, as it does its own.
    function _closeRecovered(address holder) private {
        VoucherStorage storage $ = _s();
        address[] storage lost = $.recoveredFrom[holder];
        for (uint256 i = 0; i < lost.length; ++i) {
            $.refundedAtSeq[lost[i]] = $.accounts[lost[i]].paymentSeq;
            _closeRecovered(lost[i]);
        }
    }

    function recoveredTo(address lost) external view returns (address) {
        return _s().recoveredTo[lost];
    }

    /// @dev General balance, refund basis and this month's counters: the person keeps their
    /// money, may refund what they bought, and cannot reset a monthly cap by recovering.
    function _moveGeneral(address lost, address to) private {
        VoucherStorage storage $ = _s();
        Account storage l = $.accounts[lost];
        Account storage t = $.accounts[to];
        uint256 balance = l.balance;
        uint24 month = KstCalendar.monthOf(block.timestamp);
        _rollAccount(t);
        if (l.month == month) {
            t.monthPurchased += l.monthPurchased;
            t.monthCashbackBase += l.monthCashbackBase;
        }
        t.balance += uint64(balance);
        // Only what is left of the gifts and cashback received counts: beyond the balance it
        // would take bought money out of the new wallet's refund.
        _addOtherIn(t, l.otherIn < balance ? l.otherIn : balance);
        l.balance = 0;
        l.otherIn = 0;
        Book storage lb = $.books[lost];
        Book storage tb = $.books[to];
        _rollBook(tb);
        if (lb.month == month) {
            tb.giftSent += lb.giftSent;
            tb.giftReceived += lb.giftReceived;
        }
        tb.boughtFace += lb.boughtFace;
        tb.boughtPaid += lb.boughtPaid;
        lb.boughtFace = 0;
        lb.boughtPaid = 0;
        // A public body keeps its limits (its per-institution blocked categories, a mapping,
        // are set again by the city: documented).
        InstitutionLimits storage limits = $.institutionLimits[to];
        if (limits.perPayment == 0 && limits.perMonth == 0) {
            InstitutionLimits storage old = $.institutionLimits[lost];
            (limits.perPayment, limits.perMonth) = (old.perPayment, old.perMonth);
            (limits.month, limits.monthSpent) = (old.month, old.monthSpent);
        }
        if (balance > 0) emit IERC20.Transfer(lost, to, balance);
        emit WalletRecovered(lost, to, balance);
    }

    function _activeMerchant() private view returns (address merchant) {
        merchant = _msgSender();
        Merchant storage m = _s().merchants[merchant];
        if (m.status == MerchantStatus.None) revert VoucherNotMerchant(merchant);
        if (m.status != MerchantStatus.Active) revert VoucherMerchantInactive(merchant, m.status);
    }
}
