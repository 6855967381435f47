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

    // ---------------------------------------------------------------- errors: money rules
    /// @notice Thrown when an invoice (a non-zero payment id) of this merchant was paid already.
    error VoucherInvoiceAlreadyPaid(address merchant, bytes32 invoiceId);
    /// @notice Thrown when paying an invoice its merchant cancelled.
    error VoucherInvoiceCancelled(address merchant, bytes32 invoiceId);
    /// @notice Thrown when paying an invoice at or after its expiry.
    error VoucherInvoiceExpired(address merchant, bytes32 invoiceId, uint256 expiry);
    /// @notice Thrown when an invoice with an exact amount is paid another amount.
    error VoucherInvoiceAmountMismatch(
        address merchant, bytes32 invoiceId, uint256 expected, uint256 actual
    );
    /// @notice Thrown when an invoice addressed to one payer is paid by another.
    error VoucherInvoiceWrongPayer(address merchant, bytes32 invoiceId, address payer);
    /// @notice Thrown when creating an invoice whose id this merchant has used.
    error VoucherInvoiceExists(address merchant, bytes32 invoiceId);
    /// @notice Thrown when cancelling an invoice that is not open.
    error VoucherInvoiceNotOpen(address merchant, bytes32 invoiceId);
    /// @notice Thrown when a funding plan is inconsistent; `field` names the problem.
    error VoucherInvalidFundingPlan(bytes32 field);
    /// @notice Thrown when activating or cancelling a funding plan with none pending.
    error VoucherNoPendingFundingPlan();
    /// @notice Thrown when activating a pending funding plan before its time.
    error VoucherFundingPlanNotYetEffective(uint256 effectiveAt);
    /// @notice Thrown when a merchant's extra discount or a platform's fee is out of bounds.
    error VoucherInvalidTerms(bytes32 field);
    /// @notice Thrown when a payment names a platform that is not one.
    error VoucherNotPlatform(address account);
    /// @notice Thrown when purchased money would be spent at a merchant of an excluded category.
    error VoucherCategoryExcluded(address merchant, uint24 category);
    /// @notice Thrown when a cancellation would take back more than the payment's remainder.
    error VoucherCancelExceedsPayment(address payer, uint256 seq, uint256 wouldBe, uint256 amount);
    /// @notice Thrown when a wallet that is not an institution acts as one.
    error VoucherNotInstitution(address account);
    /// @notice Thrown when an institution would spend over its monthly limit.
    error VoucherInstitutionMonthlyCapExceeded(address institution, uint256 wouldBe, uint256 cap);
    /// @notice Thrown when a wallet spends for an institution that has not authorised it.
    error VoucherNotEmployee(address employee, address institution);
    /// @notice Thrown when an employee would spend over their own monthly limit.
    error VoucherEmployeeLimitExceeded(address employee, uint256 wouldBe, uint256 limit);
    /// @notice Thrown when moving a wallet's money before the registry finalised its recovery.
    error VoucherNotRecovered(address lost);
    /// @notice Thrown when a program that is not a reward program is asked for a reward.
    error RewardNotRewardProgram(uint256 programId);
    /// @notice Thrown when an attestation id of a reward program was paid already.
    error RewardAlreadyPaid(uint256 programId, bytes32 attestationId);
    /// @notice Thrown when a reward's signature is not a REWARDER's.
    error RewardInvalidSignature(uint256 programId, bytes32 attestationId);
    /// @notice Thrown when a reward would pay nothing: the person's caps or the budget are used.
    error RewardCapReached(uint256 programId, address recipient);

    // ---------------------------------------------------------------- errors: signed payments
    /// @notice Thrown when a signed payment is submitted after its deadline.
    error VoucherSignedPaymentExpired(address payer, uint256 deadline);
    /// @notice Thrown when a signed payment's nonce is not the payer's next payment sequence:
    /// it was paid already, another payment of the payer came first, or it is ahead.
    error VoucherInvalidPaymentNonce(address payer, uint256 expected, uint256 given);
    /// @notice Thrown when a signed payment's signature is malformed, malleable (high s) or
    /// not the payer's (another payer, city, chain, or altered fields).
    error VoucherInvalidPaymentSignature(address payer);
    /// @notice Thrown when a batch of signed payments has not one signature per payment.
    error VoucherBatchLengthMismatch(uint256 payments, uint256 signatures);

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
    /// @notice Emitted on a payment that names no program pockets (most payments): all of
    /// `amount` came from the general pocket. The merchant always receives general balance.
    /// @dev Without the two empty pocket lists `PaidWithPockets` carries: 1,024 gas less a payment.
    event Paid(
        address indexed payer,
        address indexed merchant,
        bytes32 indexed paymentId,
        uint256 seq,
        uint256 amount,
        uint256 fromGeneral,
        uint256 cashback
    );
    /// @notice Emitted instead of `Paid` on a payment that names program pockets: what it took
    /// from each, in the order named (zero where a pocket was empty), the rest from general.
    event PaidWithPockets(
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

    /// @notice Emitted when a merchant opens an invoice or a remote payment request.
    event InvoiceCreated(
        address indexed merchant,
        bytes32 indexed invoiceId,
        address indexed payer,
        uint256 amount,
        uint256 expiry
    );
    /// @notice Emitted when a merchant cancels an open invoice.
    event InvoiceCancelled(address indexed merchant, bytes32 indexed invoiceId);
    /// @notice Emitted when a funding plan is proposed; it applies from `effectiveAt`.
    event FundingPlanProposed(uint256 indexed version, uint256 effectiveAt, FundingShare[] shares);
    /// @notice Emitted when a funding plan takes effect, with the running totals it starts from:
    /// what a version funds is the growth of the totals until the next version.
    event FundingPlanActivated(uint256 indexed version, uint256 subsidyAt, uint256 cashbackAt);
    /// @notice Emitted when a pending funding plan is withdrawn.
    event FundingPlanCancelled(uint256 indexed version);
    /// @notice Emitted when a merchant's extra discount or platform terms change.
    event MerchantTermsSet(
        address indexed merchant, uint16 extraBps, bool platform, uint16 platformFeeBps
    );
    /// @notice Emitted when a category is excluded (or no longer) for purchased money.
    event CategoryExcludedSet(uint24 indexed category, bool excluded);
    /// @notice Emitted when a merchant's exclusion flag is brought in line with its category.
    event MerchantExclusionSet(address indexed merchant, bool excluded);
    /// @notice Emitted with `Paid` when the merchant funded an extra discount.
    event MerchantFunded(
        address indexed merchant, address indexed payer, uint256 seq, uint256 extra
    );
    /// @notice Emitted with `Paid` when a payment went through a platform (`Paid` names the shop).
    event PlatformPayment(
        address indexed payer,
        address indexed platform,
        address indexed shop,
        uint256 seq,
        uint256 fee
    );
    /// @notice Emitted when a merchant cancels all or part of a recorded payment; the parts say
    /// where the cancelled amount went back (general, cashback taken back, fee, pockets).
    event PaymentCancelled(
        address indexed payer,
        address indexed merchant,
        bytes32 indexed paymentId,
        uint256 seq,
        uint256 amount,
        uint256 cancelledTotal,
        uint256 fromGeneral,
        uint256 cashback,
        uint256 fee,
        uint256[] programAmounts
    );
    /// @notice Emitted when a reward program is committed (with `ProgramCreated`).
    event RewardProgramCreated(uint256 indexed programId, uint256 dailyCap, uint256 monthlyCap);
    /// @notice Emitted for every reward paid into a recipient's pocket.
    event Rewarded(
        uint256 indexed programId,
        address indexed recipient,
        bytes32 indexed attestationId,
        uint256 amount
    );
    /// @notice Emitted when the city sets a public body's limits.
    event InstitutionLimitsSet(address indexed institution, uint256 perPayment, uint256 perMonth);
    /// @notice Emitted when a category is blocked or unblocked for one institution.
    event InstitutionCategoryBlockedSet(
        address indexed institution, uint24 indexed category, bool blocked
    );
    /// @notice Emitted when an institution authorises an employee (limit 0: removed).
    event EmployeeSet(address indexed institution, address indexed employee, uint256 monthlyLimit);
    /// @notice Emitted with `Paid` when an employee spends from their institution's balance.
    event EmployeePayment(
        address indexed institution, address indexed employee, uint256 seq, uint256 amount
    );
    /// @notice Emitted by `payBySigBatch` for a signed payment it skipped (the others still
    /// pay): `reason` is the revert data `payBySig` gave for it, a custom error of this token.
    event SignedPaymentSkipped(address indexed payer, uint256 nonce, bytes reason);
    /// @notice Emitted when a recovered wallet's money moves to the person's new wallet.
    event WalletRecovered(address indexed lost, address indexed to, uint256 balance);
    /// @notice Emitted for each program pocket moved by a recovery.
    event PocketRecovered(
        uint256 indexed programId, address indexed lost, address indexed to, uint256 amount
    );
}
