// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherTypes} from "./IVoucherTypes.sol";

/// @title Errors and events of a municipal voucher token, shared by its core and admin halves
interface IVoucherBase is IVoucherTypes {
    // ---------------------------------------------------------------- errors: identity and edges
    /// @notice Thrown when a party of a movement is not in the identity registry.
    error VoucherUnregistered(address account);
    /// @notice Thrown when a party of a movement is frozen in the identity registry.
    error VoucherFrozen(address account);
    /// @notice Thrown when money would move along an edge the rules do not allow.
    error VoucherEdgeNotAllowed(address from, address to);
    /// @notice Thrown when an approval-based call is made; vouchers move only by their holder.
    error VoucherUnsupported(bytes4 selector);
    /// @notice Thrown while the municipality is paused.
    error VoucherPaused();
    /// @notice Thrown when an amount is zero or does not fit the won counters.
    error VoucherInvalidAmount(uint256 amount);
    /// @notice Thrown when a holder's general balance is short.
    error VoucherInsufficientBalance(address holder, uint256 balance, uint256 needed);

    // ---------------------------------------------------------------- errors: merchants
    /// @notice Thrown when a payment's receiver is not a merchant of this municipality.
    error VoucherNotMerchant(address account);
    /// @notice Thrown when a merchant's region is not this municipality's region.
    error VoucherRegionMismatch(uint32 expected, uint32 actual);
    /// @notice Thrown when the national voucher registers a merchant that is not a market store.
    error VoucherMarketRequired(address merchant);
    /// @notice Thrown when a merchant is suspended or cancelled.
    error VoucherMerchantInactive(address merchant, MerchantStatus status);
    /// @notice Thrown when registering a merchant still barred after cash-out fraud.
    error VoucherMerchantBanned(address merchant, uint256 bannedUntil);
    /// @notice Thrown when registering a merchant twice.
    error VoucherMerchantAlreadyRegistered(address merchant);
    /// @notice Thrown when purchased money would be spent at a merchant over the revenue cap.
    error VoucherMerchantOverRevenueCap(address merchant, uint8 tier, uint8 capTier);
    /// @notice Thrown when an institution pays a merchant of a blocked category.
    error VoucherCategoryBlocked(address merchant, uint24 category);
    /// @notice Thrown when one institution payment is over the per-payment limit.
    error VoucherInstitutionPaymentCapExceeded(uint256 amount, uint256 cap);
    /// @notice Thrown when a merchant cancels a payment that is not on record.
    error VoucherPaymentNotFound(address payer, uint256 seq);

    // ---------------------------------------------------------------- errors: caps and rules
    /// @notice Thrown when a sale's discount is outside the configured bounds.
    error VoucherDiscountOutOfBounds(uint256 face, uint256 paid, uint16 minBps, uint16 maxBps);
    /// @notice Thrown when a sale would exceed the buyer's monthly purchase cap.
    error VoucherMonthlyPurchaseCapExceeded(address buyer, uint256 wouldBe, uint256 cap);
    /// @notice Thrown when a citizen's general balance would exceed the holding cap.
    error VoucherHoldingCapExceeded(address holder, uint256 wouldBe, uint256 cap);
    /// @notice Thrown when gifts are disabled in this municipality.
    error VoucherGiftDisabled();
    /// @notice Thrown when a gift would exceed the sender's monthly gift cap.
    error VoucherGiftSendCapExceeded(address sender, uint256 wouldBe, uint256 cap);
    /// @notice Thrown when a gift would exceed the receiver's monthly gift cap.
    error VoucherGiftReceiveCapExceeded(address receiver, uint256 wouldBe, uint256 cap);
    /// @notice Thrown when a refund is asked before enough purchased money is spent.
    error VoucherRefundThresholdNotMet(address holder, uint256 spentBps, uint256 requiredBps);
    /// @notice Thrown when a holder has no purchased money left to refund.
    error VoucherNothingToRefund(address holder);
    /// @notice Thrown when proposed rules are inconsistent; `rule` names the field.
    error VoucherInvalidRule(bytes32 rule);
    /// @notice Thrown when activating rules with none pending.
    error VoucherNoPendingRules();
    /// @notice Thrown when activating pending rules before their time.
    error VoucherRulesNotYetEffective(uint256 effectiveAt);

    // ---------------------------------------------------------------- errors: programs
    /// @notice Thrown when a program id does not exist.
    error ProgramUnknown(uint256 programId);
    /// @notice Thrown when a program's window or budget is invalid.
    error ProgramInvalidParams(bytes32 field);
    /// @notice Thrown when a program's pocket is used before its start.
    error ProgramNotStarted(uint256 programId, uint256 start);
    /// @notice Thrown when a program's pocket is used at or after its expiry.
    error ProgramExpired(uint256 programId, uint256 expiry);
    /// @notice Thrown when a program is closed before its expiry.
    error ProgramNotExpired(uint256 programId, uint256 expiry);
    /// @notice Thrown when a program is closed twice or used after closing.
    error ProgramAlreadyClosed(uint256 programId);
    /// @notice Thrown when a Merkle proof or multiproof does not match the program's root.
    error ProgramInvalidProof(uint256 programId);
    /// @notice Thrown when a pull claim's leaf index was already paid.
    error ProgramAlreadyClaimed(uint256 programId, uint256 index);
    /// @notice Thrown when a grant would take the program over its budget.
    error ProgramBudgetExceeded(uint256 programId, uint256 wouldBe, uint256 budget);
    /// @notice Thrown when program money would be spent at a merchant of another category.
    error ProgramCategoryNotAllowed(uint256 programId, uint24 category);
    /// @notice Thrown when a holder's program pocket is short.
    error ProgramInsufficientPocket(
        uint256 programId, address holder, uint256 balance, uint256 needed
    );
    /// @notice Thrown when the same program is named twice in one payment.
    error ProgramDuplicatePocket(uint256 programId);
    /// @notice Thrown when a grant batch names no grant (a call that would do nothing).
    error ProgramEmptyBatch(uint256 programId);
    /// @notice Thrown when a citizen gifts to themselves (it would use both monthly caps).
    error VoucherSelfGift(address account);
    /// @notice Thrown when asking for rules of a version that was never in force.
    error VoucherUnknownRulesVersion(uint256 version);
    /// @notice Thrown when cancelling a payment made before the payer's last refund: the refund
    /// counted it as spent, so it stays spent.
    error VoucherPaymentClosedByRefund(address payer, uint256 seq, uint256 refundedAtSeq);

    // ---------------------------------------------------------------- events
    /// @notice Emitted once when the municipality's token is initialised.
    event MunicipalityInitialized(uint32 indexed region, string name, string symbol, address admin);
    /// @notice Emitted when new rules are proposed; they apply from `effectiveAt`.
    event RulesProposed(uint256 indexed version, uint256 effectiveAt, Rules rules);
    /// @notice Emitted when proposed rules take effect.
    event RulesActivated(uint256 indexed version, Rules rules);
    /// @notice Emitted when pending rules are withdrawn.
    event RulesCancelled(uint256 indexed version);
    /// @notice Emitted when a KSIC category is blocked or unblocked for institution wallets.
    event InstitutionCategorySet(uint24 indexed category, bool blocked);
    /// @notice Emitted when the municipality is paused or unpaused.
    event PausedSet(bool paused, address indexed account);
    /// @notice Emitted when a merchant is registered.
    event MerchantRegistered(
        address indexed merchant, uint32 region, uint24 category, uint8 tier, bool market
    );
    /// @notice Emitted when a merchant's category or revenue tier changes.
    event MerchantUpdated(address indexed merchant, uint24 category, uint8 tier);
    /// @notice Emitted when a merchant's status changes (suspension, cancellation, ban).
    event MerchantStatusSet(address indexed merchant, MerchantStatus status, uint256 bannedUntil);
    /// @notice Emitted on a sale: `face` minted for a buyer who paid `paid` (subsidy = difference).
    event Issued(address indexed buyer, address indexed issuer, uint256 face, uint256 paid);
    /// @notice Emitted on a payment; the merchant always receives general balance.
    event Paid(
        address indexed payer,
        address indexed merchant,
        bytes32 indexed paymentId,
        uint256 seq,
        uint256 amount,
        uint256 fromGeneral,
        uint256 cashback,
        uint256[] programIds,
        uint256[] programAmounts
    );
    /// @notice Emitted when a merchant cancels a recorded payment.
    event PaymentCancelled(
        address indexed payer, address indexed merchant, bytes32 indexed paymentId, uint256 seq
    );
    /// @notice Emitted on a gift between citizens.
    event Gifted(address indexed from, address indexed to, uint256 amount);
    /// @notice Emitted when a merchant redeems vouchers for cash (환전).
    event Redeemed(address indexed merchant, uint256 amount, bytes32 indexed ref);
    /// @notice Emitted when a citizen's remaining purchased money is refunded in cash.
    event Refunded(address indexed holder, uint256 face, uint256 cash);
    /// @notice Emitted when a policy program is committed.
    event ProgramCreated(
        uint256 indexed programId,
        bytes32 root,
        uint256 budget,
        uint256 start,
        uint256 expiry,
        bool revenueCapWaived,
        uint24[] categories,
        bytes32 ref
    );
    /// @notice Emitted for every grant paid into a recipient's program pocket.
    event Granted(
        uint256 indexed programId, address indexed recipient, uint256 index, uint256 amount
    );
    /// @notice Emitted when an expired program is closed; `returned` = budget - spent.
    event ProgramClosed(
        uint256 indexed programId, uint256 granted, uint256 spent, uint256 returned
    );
}
