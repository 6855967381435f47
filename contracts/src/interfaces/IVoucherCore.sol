// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IVoucherBase} from "./IVoucherBase.sol";

/// @title The money-moving half of a voucher token: ERC-20 surface, sales, payments, gifts,
/// redemptions, refunds and grants. Deployed as the beacon's implementation.
interface IVoucherCore is IERC20Metadata, IVoucherBase {
    // ---------------------------------------------------------------- money
    /// @notice Sale by a sales agent: mints `face` for `buyer`, who paid `paid` in cash.
    function issue(address buyer, uint256 face, uint256 paid) external;
    /// @notice Pays a merchant from the named program pockets first, the rest from general.
    function pay(address merchant, uint256 amount, bytes32 paymentId, uint256[] calldata programIds)
        external
        returns (uint256 seq);
    /// @notice Merchant cancels a recorded payment; the payer gets their money back.
    function cancelPayment(PaymentRecord calldata record) external;
    /// @notice Gift between citizens from the general pocket.
    function gift(address to, uint256 amount) external;
    /// @notice Merchant burns general balance for cash; `ref` ties it to the settlement batch.
    function redeem(uint256 amount, bytes32 ref) external;
    /// @notice Cash refund of the caller's remaining purchased money, minus the discount subsidy.
    function refund() external returns (uint256 face, uint256 cash);

    // ---------------------------------------------------------------- programs
    /// @notice Pushes grants proven by an OpenZeppelin multiproof; already-paid indices are skipped.
    function grantBatch(
        uint256 programId,
        Grant[] calldata grants,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) external returns (uint256 paidCount);
    /// @notice The caller pulls their own grant with a proof.
    function claim(uint256 programId, uint256 index, uint256 amount, bytes32[] calldata proof)
        external;
    /// @notice Pulls the caller's grant and pays a merchant in one signed request.
    function claimAndPay(
        uint256 programId,
        uint256 index,
        uint256 grantAmount,
        bytes32[] calldata proof,
        address merchant,
        uint256 amount,
        bytes32 paymentId,
        uint256[] calldata programIds
    ) external returns (uint256 seq);

    // ---------------------------------------------------------------- views
    function pocketOf(uint256 programId, address holder) external view returns (uint256);
    function isClaimed(uint256 programId, uint256 index) external view returns (bool);
}
