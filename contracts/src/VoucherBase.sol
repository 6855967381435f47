// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {
    AccessControlUpgradeable
} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {
    ERC2771ContextUpgradeable
} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/ContextUpgradeable.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "./interfaces/IVoucherBase.sol";
import {KstCalendar} from "./libraries/KstCalendar.sol";

/// @title Storage, identity checks, rules and the ERC-20 surface of a municipal voucher token
/// @dev ERC-7201 namespaced storage so the beacon can upgrade every municipality safely. The
/// trusted forwarder and the identity registry are network-wide, so they are immutables of the
/// shared implementation rather than per-proxy storage (and cost no storage read).
abstract contract VoucherBase is IVoucherBase, AccessControlUpgradeable, ERC2771ContextUpgradeable {
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    bytes32 public constant MERCHANT_REGISTRAR_ROLE = keccak256("MERCHANT_REGISTRAR_ROLE");
    bytes32 public constant PROGRAM_MANAGER_ROLE = keccak256("PROGRAM_MANAGER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    /// @dev The city's reward service key: signs attestations that reward programs pay.
    bytes32 public constant REWARDER_ROLE = keccak256("REWARDER_ROLE");

    /// @dev Payments a payer can still cancel: the newest ones, kept in a ring so a payment
    /// overwrites a used slot (5k gas) instead of filling a fresh one (22k gas). 64 covers about
    /// three weeks of a resident paying three times a day (a shop's refunds come within days);
    /// a larger ring costs nothing per payment, only 17k more for each of a payer's first N.
    uint256 internal constant PAYMENT_RING = 64;
    /// @dev Marks a ring slot whose payment was cancelled; non-zero so the slot stays warm-priced.
    bytes32 internal constant CANCELLED = bytes32(uint256(1));
    uint256 internal constant BPS = 10_000;
    /// @dev Marks a reward program: it has no recipient list, so no Merkle proof can match it.
    bytes32 internal constant REWARD_ROOT = keccak256("dongne.reward-program");

    /// @dev EIP-712 type of `SignedPayment` (see IVoucherTypes), signed for `payBySig`.
    bytes32 internal constant SIGNED_PAYMENT_TYPE_HASH = keccak256(
        "SignedPayment(address payer,address merchant,uint256 amount,bytes32 paymentId,uint256[] programIds,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant PAYMENT_DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    /// @dev The signed-payment domain (the core verifies, the admin module's `eip712Domain`
    /// tells wallets). Constants of the code, not per-proxy storage: the same for every city
    /// (the proxy address tells cities apart) and through every upgrade, so a payment signed
    /// before an upgrade still verifies after it. Changing either invalidates every signature
    /// in flight and every wallet's pinned domain.
    string internal constant PAYMENT_DOMAIN_NAME = "Dongne Voucher";
    string internal constant PAYMENT_DOMAIN_VERSION = "1";

    /// @dev One slot: everything a payment reads and writes for its payer.
    struct Account {
        uint64 balance; // general pocket (1.8e19 won: beyond any holding)
        // KST month the two counters below belong to. Was `uint24 month`: a month index is
        // year * 12 + month - 1 (24,3xx today, < 2^16 until the year 5461, as Employee.month
        // assumes), so the top byte of every deployed account starts at zero and now holds
        // `identity`.
        uint16 month;
        // The holder's registry kind mirrored here (0: not mirrored, ask the registry), written
        // by the first movement that checks the holder while it is active. A payment reads this
        // slot anyway, so an active holder costs no registry call. Safe because the registry
        // tells every token of the factory to forget a wallet the moment it is frozen (a kind
        // never changes, and only a frozen wallet can be recovered), and it only lets tokens
        // mirror once it knows the factory (see IdentityRegistry.forgetInTokens).
        uint8 identity;
        uint48 monthPurchased;
        uint48 monthCashbackBase;
        uint32 paymentSeq;
        // Cashback and gifts received since the last refund: general money that was not
        // bought, so a cash refund never pays it out. Counted as spent last.
        uint40 otherIn;
    }

    /// @dev One slot: gift counters and the refund basis, touched by sales, gifts and refunds.
    struct Book {
        uint24 month; // KST month of the gift counters
        uint48 giftSent;
        uint48 giftReceived;
        uint64 boughtFace; // face value bought since the last refund
        uint64 boughtPaid; // cash paid for it
    }

    /// @custom:storage-location erc7201:dongne.storage.VoucherToken
    struct VoucherStorage {
        // Every version of the rules by number: the current one is `rulesVersion`, a pending
        // one `rulesVersion + 1`. A mapping, not inline structs, so that Rules can grow in an
        // upgrade without moving any later field (contracts/layout/ holds the checked layout).
        mapping(uint64 version => Rules) rulesByVersion;
        uint64 pendingAt; // 0 when nothing is pending
        uint64 rulesVersion;
        uint32 region;
        bool paused;
        // Was `uint256 totalSupply`; every deployed proxy holds < 2^128 in it, so the upper half,
        // now the two running totals funders are billed from, starts at zero. Packed so that a
        // payment counts its cashback in the slot it writes anyway (no extra 5k SSTORE), and
        // read and written whole (one SLOAD, one SSTORE) where both halves change.
        Supply supply;
        string name;
        string symbol;
        mapping(address holder => Account) accounts;
        mapping(address holder => Book) books;
        mapping(address merchant => Merchant) merchants;
        mapping(uint24 category => bool) institutionBlocked;
        mapping(address payer => bytes32[PAYMENT_RING]) payments;
        uint256 programCount;
        mapping(uint256 programId => Program) programs;
        mapping(uint256 programId => mapping(uint24 category => bool)) programCategories;
        mapping(uint256 programId => mapping(address holder => uint256)) pockets;
        mapping(uint256 programId => mapping(uint256 word => uint256)) claimed;
        // The payer's payment sequence at their last refund: earlier payments can no longer be
        // cancelled (the refund counted them as spent). Appended: earlier fields keep their slots.
        mapping(address payer => uint32) refundedAtSeq;
        // ---- money rules (appended)
        mapping(address merchant => mapping(bytes32 invoiceId => Invoice)) invoices;
        // Funding plans: versioned like rules; version `fundingVersion + 1` is pending.
        uint64 fundingVersion;
        uint64 fundingPendingAt;
        mapping(uint64 version => FundingShare[]) fundingPlans;
        mapping(uint64 version => FundingMark) fundingMarks;
        mapping(uint256 programId => RewardPolicy) rewardPolicies;
        mapping(uint256 programId => mapping(address holder => RewardCounter)) rewardCounters;
        mapping(uint256 programId => mapping(bytes32 attestationId => bool)) rewardsPaid;
        mapping(address lost => address to) recoveredTo;
        mapping(address institution => InstitutionLimits) institutionLimits;
        mapping(address institution => mapping(uint24 category => bool)) institutionBlockedFor;
        mapping(address employee => Employee) employees;
        mapping(uint24 category => bool) excludedCategory;
        // The wallets recovered into a wallet: its refund closes their payments too.
        mapping(address to => address[] lost) recoveredFrom;
        // Appended: a copy of what a payment reads of the rules in force, with the pause flag.
        PayRules payRules;
    }

    /// @dev One slot: the fields of the rules in force that every payment reads, and the pause
    /// flag. A payment reads this one slot where it read two cold ones (the flags' slot for
    /// `paused` and `rulesVersion`, then the version's rules): ~2,100 gas less per payment.
    /// `rulesByVersion` and `paused` stay the truth; the admin module rewrites this copy
    /// whenever either changes (initialize, rules activation, setPaused). On a proxy deployed
    /// before the field existed its slot is zero, so `mirrored` is false and payments read the
    /// truth instead until the next setPaused or activation writes the copy. An implementation
    /// without the copy (a rollback) changes the truth and leaves a trusted copy stale, so every
    /// beacon upgrade calls `mirrorPayRules` on every city in its timelock batch
    /// (chain/upgrades.py): no payment runs between the upgrade and the rewrite.
    struct PayRules {
        uint8 revenueCapTier;
        uint16 cashbackBpsTier0;
        uint16 cashbackBpsTier1;
        uint16 cashbackBpsTier2;
        uint16 cashbackBpsTier3;
        uint64 cashbackMonthlyBase;
        uint64 holdingCap;
        bool paused;
        bool mirrored;
    }

    /// @dev One slot: the ERC-20 total supply and the running totals funders are billed from.
    struct Supply {
        uint128 total;
        uint64 cashback; // cashback minted, net of cancellations
        uint64 subsidy; // discount subsidy of every sale (face - paid)
    }

    /// @dev The running totals when a funding plan version took effect.
    struct FundingMark {
        uint64 subsidyAt;
        uint64 cashbackAt;
    }

    /// @dev A reward program's caps per person.
    struct RewardPolicy {
        uint48 dailyCap;
        uint48 monthlyCap;
    }

    /// @dev What a person was paid by one reward program today and this month (one slot).
    struct RewardCounter {
        uint32 day;
        uint48 dayTotal;
        uint24 month;
        uint48 monthTotal;
    }

    // keccak256(abi.encode(uint256(keccak256("dongne.storage.VoucherToken")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT =
        0x2547453015b5cb138b32d1599510e64765648ffb8af8e58c7789137d1536f900;

    IIdentityRegistry internal immutable _registry;

    constructor(address forwarder, IIdentityRegistry registry_)
        ERC2771ContextUpgradeable(forwarder)
    {
        _registry = registry_;
    }

    function _s() internal pure returns (VoucherStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }

    // ------------------------------------------------------------------ shared checks

    function _validateRules(Rules calldata r) internal pure {
        if (r.minDiscountBps > r.maxDiscountBps || r.maxDiscountBps >= BPS) {
            revert VoucherInvalidRule("discountBounds");
        }
        if (r.refundThresholdBps > BPS) revert VoucherInvalidRule("refundThresholdBps");
        if (
            r.cashbackBpsTier0 > BPS || r.cashbackBpsTier1 > BPS || r.cashbackBpsTier2 > BPS
                || r.cashbackBpsTier3 > BPS
        ) revert VoucherInvalidRule("cashbackBps");
        if (r.holdingCap == 0) revert VoucherInvalidRule("holdingCap");
        if (r.changeDelay > 365 days) revert VoucherInvalidRule("changeDelay");
    }

    /// @dev The rules in force: one mapping read beside the flags' slot a payment reads anyway.
    function _rules() internal view returns (Rules storage) {
        VoucherStorage storage $ = _s();
        return $.rulesByVersion[$.rulesVersion];
    }

    /// @dev What a payment reads of the rules in force, reverting while paused: the copy in
    /// one SLOAD (decoded by hand: a struct copy reads the slot once per field; the shifts are
    /// the field offsets of `PayRules`, contracts/layout/), else the truth it copies.
    function _payRules() internal view returns (PayRules memory pr) {
        VoucherStorage storage $ = _s();
        PayRules storage copy = $.payRules;
        uint256 w;
        assembly {
            w := sload(copy.slot)
        }
        if (uint8(w >> 208) != 0) {
            pr.revenueCapTier = uint8(w);
            pr.cashbackBpsTier0 = uint16(w >> 8);
            pr.cashbackBpsTier1 = uint16(w >> 24);
            pr.cashbackBpsTier2 = uint16(w >> 40);
            pr.cashbackBpsTier3 = uint16(w >> 56);
            pr.cashbackMonthlyBase = uint64(w >> 72);
            pr.holdingCap = uint64(w >> 136);
            pr.paused = uint8(w >> 200) != 0;
        } else {
            pr = _payRulesOf(_rules(), $.paused);
        }
        if (pr.paused) revert VoucherPaused();
    }

    function _payRulesOf(Rules storage r, bool paused_) internal view returns (PayRules memory) {
        return PayRules({
            revenueCapTier: r.revenueCapTier,
            cashbackBpsTier0: r.cashbackBpsTier0,
            cashbackBpsTier1: r.cashbackBpsTier1,
            cashbackBpsTier2: r.cashbackBpsTier2,
            cashbackBpsTier3: r.cashbackBpsTier3,
            cashbackMonthlyBase: r.cashbackMonthlyBase,
            holdingCap: r.holdingCap,
            paused: paused_,
            mirrored: false
        });
    }

    function _requireNotPaused() internal view {
        if (_s().paused) revert VoucherPaused();
    }

    /// @dev Each party must be registered and not frozen: from the mirrors in their account
    /// slots (which the movement reads anyway) when both are set, otherwise from one registry
    /// call, whose answer is then mirrored if the registry pushes freezes to this token.
    function _requireIdentities(address a, address b)
        internal
        returns (IIdentityRegistry.Kind kindA, IIdentityRegistry.Kind kindB)
    {
        Account storage accountA = _s().accounts[a];
        Account storage accountB = _s().accounts[b];
        kindA = IIdentityRegistry.Kind(accountA.identity);
        kindB = IIdentityRegistry.Kind(accountB.identity);
        if (kindA != IIdentityRegistry.Kind.None && kindB != IIdentityRegistry.Kind.None) {
            return (kindA, kindB);
        }
        bool frozenA;
        bool frozenB;
        bool mirrorable;
        (kindA, frozenA, kindB, frozenB, mirrorable) =
            _registry.mirrorableIdentitiesOf(a, b, _s().region);
        _requireActive(a, kindA, frozenA);
        _requireActive(b, kindB, frozenB);
        if (mirrorable) {
            accountA.identity = uint8(kindA);
            accountB.identity = uint8(kindB);
        }
    }

    /// @dev One party, as `_requireIdentities`: a sale or a merchant's registration mirrors
    /// the wallet, so its first payment already finds it in its slot.
    function _requireIdentity(address a) internal returns (IIdentityRegistry.Kind kind) {
        Account storage account = _s().accounts[a];
        kind = IIdentityRegistry.Kind(account.identity);
        if (kind != IIdentityRegistry.Kind.None) return kind;
        bool frozen;
        bool mirrorable;
        (kind, frozen,,, mirrorable) = _registry.mirrorableIdentitiesOf(a, a, _s().region);
        _requireActive(a, kind, frozen);
        if (mirrorable) account.identity = uint8(kind);
    }

    function _requireActive(address account, IIdentityRegistry.Kind kind, bool frozen)
        private
        pure
    {
        if (kind == IIdentityRegistry.Kind.None) revert VoucherUnregistered(account);
        if (frozen) revert VoucherFrozen(account);
    }

    /// @dev Amounts are whole won; 48 bits (2.8e14 won) bounds every per-person counter.
    function _amount(uint256 amount) internal pure returns (uint48) {
        if (amount == 0 || amount > type(uint48).max) revert VoucherInvalidAmount(amount);
        return uint48(amount);
    }

    /// @dev The whole account slot in one SLOAD: copying the struct field by field costs a
    /// read per field. The shifts are the field offsets of `Account` (contracts/layout/).
    function _loadAccount(Account storage s) internal view returns (Account memory a) {
        uint256 w;
        assembly {
            w := sload(s.slot)
        }
        a.balance = uint64(w);
        a.month = uint16(w >> 64);
        a.identity = uint8(w >> 80);
        a.monthPurchased = uint48(w >> 88);
        a.monthCashbackBase = uint48(w >> 136);
        a.paymentSeq = uint32(w >> 184);
        a.otherIn = uint40(w >> 216);
    }

    /// @dev The whole account slot in one SSTORE (field by field it is a read and a write each).
    function _storeAccount(Account storage s, Account memory a) internal {
        uint256 w = uint256(a.balance) | uint256(a.month) << 64 | uint256(a.identity) << 80
            | uint256(a.monthPurchased) << 88 | uint256(a.monthCashbackBase) << 136
            | uint256(a.paymentSeq) << 184 | uint256(a.otherIn) << 216;
        assembly {
            sstore(s.slot, w)
        }
    }

    /// @dev Starts a new month's counters on the first movement of the month.
    function _rollAccount(Account storage a) internal {
        uint24 month = KstCalendar.monthOf(block.timestamp);
        if (a.month != month) {
            a.month = uint16(month);
            a.monthPurchased = 0;
            a.monthCashbackBase = 0;
        }
    }

    function _rollBook(Book storage b) internal {
        uint24 month = KstCalendar.monthOf(block.timestamp);
        if (b.month != month) {
            b.month = month;
            b.giftSent = 0;
            b.giftReceived = 0;
        }
    }

    /// @dev Saturates: the counter only ever caps a refund, so saturating errs for the city.
    function _addOtherIn(Account storage a, uint256 amount) internal {
        uint256 total = uint256(a.otherIn) + amount;
        a.otherIn = total > type(uint40).max ? type(uint40).max : uint40(total);
    }

    function _requireHoldingRoom(address holder, uint256 balance, uint256 amount) internal view {
        uint256 cap = _rules().holdingCap;
        if (balance + amount > cap) {
            revert VoucherHoldingCapExceeded(holder, balance + amount, cap);
        }
    }

    /// @dev What the payment ring holds for a payment: one keccak over 12 fixed-width words,
    /// the pocket lists reduced to one word first (zero when none are named, as in most
    /// payments). Hashing the record with `abi.encode` walked its two dynamic arrays through
    /// memory on every payment (~230 gas more). The preimage is always 12 words and the
    /// legacy one (`_legacyRecordHash`) at least 16, so the two can never be confused.
    function _recordHash(address merchant, PaymentRecord memory r) internal pure returns (bytes32) {
        bytes32 pockets = r.programIds.length == 0 && r.programAmounts.length == 0
            ? bytes32(0)
            : keccak256(abi.encode(r.programIds, r.programAmounts));
        return _recordWordsHash(
            merchant,
            r.payer,
            r.seq,
            r.paymentId,
            r.amount,
            r.fromGeneral,
            r.cashback,
            pockets,
            r.extra,
            r.platform,
            r.fee,
            r.cancelled
        );
    }

    function _recordWordsHash(
        address merchant,
        address payer,
        uint256 seq,
        bytes32 paymentId,
        uint256 amount,
        uint256 fromGeneral,
        uint256 cashback,
        bytes32 pockets,
        uint256 extra,
        address platform,
        uint256 fee,
        uint256 cancelled
    ) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                merchant,
                payer,
                seq,
                paymentId,
                amount,
                fromGeneral,
                cashback,
                pockets,
                extra,
                platform,
                fee,
                cancelled
            )
        );
    }

    /// @dev Whether `record` is the payment the ring holds in its slot. Payments made before
    /// the ring hash above took effect hold the legacy hash; it is only computed when the
    /// current one does not match, so it costs current payments nothing. It takes the record in
    /// memory so that one function hashes records: `cancelPayment` copies the presented record
    /// once and reuses the copy for the remainder of a partial cancel (the legacy hash is the
    /// same from memory: `abi.encode` does not depend on where the struct lives).
    function _isOnRecord(address merchant, PaymentRecord memory record)
        internal
        view
        returns (bool)
    {
        bytes32 stored = _s().payments[record.payer][record.seq % PAYMENT_RING];
        return
            stored == _recordHash(merchant, record) || stored == _legacyRecordHash(merchant, record);
    }

    function _legacyRecordHash(address merchant, PaymentRecord memory record)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(merchant, record));
    }

    // ------------------------------------------------------------------ programs
    function _program(uint256 programId) internal view returns (Program storage p) {
        p = _s().programs[programId];
        if (p.root == bytes32(0)) revert ProgramUnknown(programId);
    }

    /// @dev A pocket is spendable between start and expiry of an open program.
    function _requireLive(uint256 programId, Program storage p) internal view {
        if (p.closed) revert ProgramAlreadyClosed(programId);
        if (block.timestamp < p.start) revert ProgramNotStarted(programId, p.start);
        if (block.timestamp >= p.expiry) revert ProgramExpired(programId, p.expiry);
    }

    function _categoryAllowed(uint256 programId, Program storage p, uint24 category)
        internal
        view
        returns (bool)
    {
        return p.anyCategory || _s().programCategories[programId][category];
    }

    /// @dev Runs this call's calldata in `module` (with this storage and caller) and returns
    /// or reverts with what it did: the proxy's halves chain core -> admin -> services.
    function _delegate(address module) internal {
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }

    // ------------------------------------------------------------------ ERC-2771 plumbing

    function _msgSender()
        internal
        view
        override(ContextUpgradeable, ERC2771ContextUpgradeable)
        returns (address)
    {
        return ERC2771ContextUpgradeable._msgSender();
    }

    function _msgData()
        internal
        view
        override(ContextUpgradeable, ERC2771ContextUpgradeable)
        returns (bytes calldata)
    {
        return ERC2771ContextUpgradeable._msgData();
    }

    function _contextSuffixLength()
        internal
        view
        override(ContextUpgradeable, ERC2771ContextUpgradeable)
        returns (uint256)
    {
        return ERC2771ContextUpgradeable._contextSuffixLength();
    }
}
