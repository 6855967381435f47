// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "./IVoucherBase.sol";

/// @title The administrative half of a voucher token: rules, merchants, programs' lifecycle
/// and views. The core delegates calls it does not know to this module.
interface IVoucherAdmin is IVoucherBase {
    // ---------------------------------------------------------------- admin
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
    /// @notice Whether a payment record is still cancellable.
    function isPaymentOnRecord(address merchant, PaymentRecord calldata record)
        external
        view
        returns (bool);
}
