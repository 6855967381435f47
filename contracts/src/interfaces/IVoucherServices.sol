// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "./IVoucherBase.sol";

/// @title The services half of a voucher token: invoices and remote payment requests, platform
/// and employee payments, reward programs and wallet recovery. The admin module delegates the
/// calls it does not know to this module, so it too runs in the proxy's storage.
interface IVoucherServices is IVoucherBase {
    // ---------------------------------------------------------------- ERC-20 metadata
    /// @notice The voucher's name (IERC20Metadata), e.g. "Siheung Voucher".
    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    /// @notice Whole won: vouchers have no fractional unit.
    function decimals() external pure returns (uint8);
    /// @notice Always 0: vouchers move only by their holder's own request.
    function allowance(address owner, address spender) external pure returns (uint256);
    /// @notice Reverts `VoucherUnsupported`, as does `transferFrom`.
    function approve(address spender, uint256 value) external pure returns (bool);
    function transferFrom(address from, address to, uint256 value) external pure returns (bool);

    // ---------------------------------------------------------------- invoices
    /// @notice The calling merchant opens an invoice: `payer` (0: anyone) pays exactly `amount`
    /// (0: any amount) before `expiry` (0: never), once. A remote payment request names its payer.
    function createInvoice(bytes32 invoiceId, address payer, uint256 amount, uint40 expiry) external;
    /// @notice The calling merchant cancels one of its open invoices.
    function cancelInvoice(bytes32 invoiceId) external;
    /// @notice The invoice the merchant opened under `invoiceId` (status None if it never did).
    function invoiceOf(address merchant, bytes32 invoiceId) external view returns (Invoice memory);
    /// @notice Whether (merchant, invoiceId) was paid: an opened invoice whatever the amount, a
    /// code never opened on chain (single use per id and amount) at `amount`, the price asked.
    function isInvoicePaid(address merchant, bytes32 invoiceId, uint256 amount)
        external
        view
        returns (bool);

    // ---------------------------------------------------------------- payments
    /// @notice Pays `shop` through `platform` (a delivery app): the shop receives the amount
    /// less the platform's brokerage, the platform the brokerage.
    function payThroughPlatform(
        address platform,
        address shop,
        uint256 amount,
        bytes32 paymentId,
        uint256[] calldata programIds
    ) external returns (uint256 seq);
    /// @notice The calling institution authorises `employee` to spend from its balance up to
    /// `monthlyLimit` a KST month (0 removes the authorisation).
    function setEmployee(address employee, uint40 monthlyLimit) external;
    /// @notice An employee pays a merchant from their institution's balance; the payment is the
    /// institution's, attributed to the employee by `EmployeePayment`.
    function payAsEmployee(address institution, address merchant, uint256 amount, bytes32 paymentId)
        external
        returns (uint256 seq);
    function employeeOf(address employee) external view returns (Employee memory);

    // ---------------------------------------------------------------- redemption, refunds
    /// @notice Merchant burns general balance for cash; `ref` ties it to the settlement batch.
    function redeem(uint256 amount, bytes32 ref) external;
    /// @notice Cash refund of the caller's remaining purchased money, minus the discount subsidy.
    /// @dev Redemption and refund run in the services module since the money-rules upgrade:
    /// the core had no code-size room left, and neither is on a payment's path.
    function refund() external returns (uint256 face, uint256 cash);

    // ---------------------------------------------------------------- rewards
    /// @notice Commits a reward program: grants are paid on REWARDER attestations, bounded by
    /// the budget and per-person daily and monthly caps, into a pocket with the program's rules.
    function createRewardProgram(RewardParams calldata params) external returns (uint256 programId);
    /// @notice Pays one reward on a REWARDER's EIP-712 signature; anyone may submit it.
    function claimReward(uint256 programId, Reward calldata reward, bytes calldata signature)
        external
        returns (uint256 paid);
    /// @notice A REWARDER pays many rewards; paid attestation ids are skipped, each reward is cut
    /// to what the caps and budget leave (possibly 0, which still uses its id).
    function rewardBatch(uint256 programId, Reward[] calldata rewards)
        external
        returns (uint256 paidCount);
    /// @notice The EIP-712 digest a REWARDER signs for `reward`.
    function rewardDigest(uint256 programId, Reward calldata reward) external view returns (bytes32);
    function isRewardPaid(uint256 programId, bytes32 attestationId) external view returns (bool);
    function rewardPolicyOf(uint256 programId)
        external
        view
        returns (uint256 dailyCap, uint256 monthlyCap);
    /// @notice What `holder` was paid by a reward program today and this month (KST).
    function rewardsOf(uint256 programId, address holder)
        external
        view
        returns (uint256 today, uint256 thisMonth);

    // ---------------------------------------------------------------- recovery
    /// @notice Once the registry finalised a recovery, moves the lost wallet's general balance,
    /// purchase book, this month's counters and the named program pockets to the new wallet;
    /// anyone may call, again for more pockets. Later cancellations of the lost wallet's
    /// payments pay the new wallet.
    function recoverWallet(address lost, uint256[] calldata programIds) external;
    function recoveredTo(address lost) external view returns (address);
}
