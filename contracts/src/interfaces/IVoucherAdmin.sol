// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "./IVoucherBase.sol";

/// @title The administrative half of a voucher token: rules, merchants, programs' lifecycle
/// and views. The core delegates calls it does not know to this module.
interface IVoucherAdmin is IVoucherBase {
    // ---------------------------------------------------------------- admin
    /// @notice Called once by the factory through the beacon proxy.
    function initialize(
        uint32 region_,
        string calldata name_,
        string calldata symbol_,
        address admin,
        Rules calldata initialRules
    ) external;
    /// @notice Proposes new rules, effective after the current rules' change delay.
    function proposeRules(Rules calldata rules) external returns (uint256 version);
    /// @notice Applies pending rules once their time has come; anyone may call.
    function activateRules() external;
    /// @notice Withdraws pending rules.
    function cancelPendingRules() external;
    /// @notice Blocks or unblocks a KSIC category for institution wallets.
    function setInstitutionCategory(uint24 category, bool blocked) external;
    /// @notice Pauses or unpauses every movement of money.
    function setPaused(bool paused) external;
    /// @notice Rewrites the payments' copy of the rules in force and the pause flag from the
    /// truth (`rules()`, `paused()`); anyone may call, and calling it again changes nothing.
    /// Every beacon upgrade runs it for every city in the same timelock batch: an
    /// implementation without the copy (a rollback) may have paused or changed the rules
    /// without rewriting it.
    function mirrorPayRules() external;
    /// @notice Called by the identity registry when `account` is frozen: the token drops its
    /// mirror of the wallet's identity, so its next movement asks the registry again.
    function forgetIdentity(address account) external;
    /// @notice Sets a public body's per-payment and monthly limits (0: none).
    function setInstitutionLimits(address institution, uint48 perPayment, uint48 perMonth) external;
    /// @notice Blocks or unblocks a KSIC category for one institution.
    function setInstitutionBlockedCategory(address institution, uint24 category, bool blocked)
        external;
    /// @notice Excludes a KSIC category for purchased (general) money; policy pockets follow
    /// their program's own allowlist. Existing merchants follow on `syncMerchantExclusion`.
    function setExcludedCategory(uint24 category, bool excluded) external;
    /// @notice Brings merchants' exclusion flags in line with their categories; anyone may call.
    function syncMerchantExclusion(address[] calldata merchants) external;

    // ---------------------------------------------------------------- funding plans
    /// @notice Proposes who funds subsidies and cashback, effective after the rules' change
    /// delay; every funder's basis points must add up to 10,000 for each.
    function proposeFundingPlan(FundingShare[] calldata shares) external returns (uint256 version);
    /// @notice Applies the pending funding plan once its time has come; anyone may call.
    function activateFundingPlan() external;
    /// @notice Withdraws the pending funding plan.
    function cancelPendingFundingPlan() external;

    // ---------------------------------------------------------------- merchants
    /// @notice Registers a merchant of this municipality.
    function registerMerchant(
        address merchant,
        uint32 region,
        uint24 category,
        uint8 tier,
        bool market
    ) external;
    /// @notice Changes a merchant's category and revenue tier.
    function updateMerchant(address merchant, uint24 category, uint8 tier) external;
    /// @notice Suspends, reactivates or cancels a merchant; `bannedUntil` bars re-registration.
    /// A running ban can be extended but neither lifted nor shortened (`VoucherMerchantBanned`).
    function setMerchantStatus(address merchant, MerchantStatus status, uint40 bannedUntil) external;
    /// @notice Makes a merchant a platform (a delivery app) taking `feeBps` brokerage.
    function setPlatform(address merchant, bool platform, uint16 feeBps) external;
    /// @notice The calling merchant's own discount on every payment, which it funds itself.
    function setExtraDiscount(uint16 extraBps) external;

    // ---------------------------------------------------------------- programs
    /// @notice Commits a policy program's recipient list root and rules in one transaction.
    function createProgram(ProgramParams calldata params) external returns (uint256 programId);
    /// @notice Closes an expired program in O(1) and reports the budget it returns.
    function closeProgram(uint256 programId) external returns (uint256 returned);

    // ---------------------------------------------------------------- views
    function region() external view returns (uint32);
    function identityRegistry() external view returns (address);
    function rules() external view returns (Rules memory);
    function rulesVersion() external view returns (uint256);
    /// @notice The rules of a version that has been in force (1 .. rulesVersion): auditors
    /// read which rules a past payment ran under.
    function rulesAt(uint256 version) external view returns (Rules memory);
    function pendingRules() external view returns (Rules memory rules, uint256 effectiveAt);
    function paused() external view returns (bool);
    function isInstitutionCategoryBlocked(uint24 category) external view returns (bool);
    function merchantOf(address merchant) external view returns (Merchant memory);
    /// @notice A holder's pocket of a program (views live in the admin module since the
    /// money-rules upgrade, for the core's code-size room).
    function pocketOf(uint256 programId, address holder) external view returns (uint256);
    function isClaimed(uint256 programId, uint256 index) external view returns (bool);
    function programOf(uint256 programId) external view returns (Program memory);
    function programCount() external view returns (uint256);
    function isProgramCategoryAllowed(uint256 programId, uint24 category)
        external
        view
        returns (bool);
    /// @notice Monthly counters and refund basis of a holder.
    function accountOf(address holder)
        external
        view
        returns (
            uint256 monthPurchased,
            uint256 monthCashbackBase,
            uint256 monthGiftSent,
            uint256 monthGiftReceived,
            uint256 boughtFace,
            uint256 boughtPaid,
            uint256 nextPaymentSeq
        );
    function isCategoryExcluded(uint24 category) external view returns (bool);
    function institutionLimitsOf(address institution)
        external
        view
        returns (InstitutionLimits memory);
    function isInstitutionCategoryBlockedFor(address institution, uint24 category)
        external
        view
        returns (bool);
    function fundingVersion() external view returns (uint256);
    function fundingPlan(uint256 version) external view returns (FundingShare[] memory);
    function pendingFundingPlan()
        external
        view
        returns (FundingShare[] memory shares, uint256 effectiveAt);
    function fundingTotals() external view returns (uint256 subsidy, uint256 cashback);
    function fundedBy(uint256 version) external view returns (int256 subsidy, int256 cashback);
    function funderTotals(bytes32 funder) external view returns (int256 subsidy, int256 cashback);
    // ---------------------------------------------------------------- signed payments
    /// @notice EIP-5267: the EIP-712 domain wallets sign `SignedPayment` under (fields 0x0f:
    /// name, version, chainId, verifyingContract = this city's token; no salt, no extensions).
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        );
    /// @notice The EIP-712 type hash of `SignedPayment`, for wallets to check their type string.
    function SIGNED_PAYMENT_TYPEHASH() external pure returns (bytes32);
    /// @notice Whether a payment record is still cancellable.
    function isPaymentOnRecord(address merchant, PaymentRecord calldata record)
        external
        view
        returns (bool);
}
