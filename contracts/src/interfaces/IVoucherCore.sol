// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "./IVoucherBase.sol";

/// @title The money-moving half of a voucher token: ERC-20 balances and transfers, sales,
/// payments, gifts and grants. Deployed as the beacon's implementation. The rest of the ERC-20
/// surface (metadata, and allowances, which do not exist) is served by the services module, so
/// the proxy as a whole (IVoucherToken) is an IERC20Metadata.
interface IVoucherCore is IVoucherBase {
    // ---------------------------------------------------------------- ERC-20 (IERC20)
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function totalSupply() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    /// @notice To a merchant a payment from the general pocket, to a citizen a gift.
    function transfer(address to, uint256 value) external returns (bool);

    // ---------------------------------------------------------------- money
    /// @notice Sale by a sales agent: mints `face` for `buyer`, who paid `paid` in cash.
    function issue(address buyer, uint256 face, uint256 paid) external;
    /// @notice Pays a merchant from the named program pockets first, the rest from general.
    function pay(address merchant, uint256 amount, bytes32 paymentId, uint256[] calldata programIds)
        external
        returns (uint256 seq);
    /// @notice Pays as `pay` would for `payment.payer`, who signed `payment` (EIP-712, see
    /// `SignedPayment`); anyone may submit it. Every rule of `pay` applies, with its errors.
    /// @return seq The payment's sequence number: `payment.nonce`.
    function payBySig(SignedPayment calldata payment, PaymentSignature calldata signature)
        external
        returns (uint256 seq);
    /// @notice `payBySig` for each payment in order; one that reverts is skipped with
    /// `SignedPaymentSkipped` and the others still pay (a relayer batches many wallets).
    /// @return paidCount How many were paid.
    function payBySigBatch(
        SignedPayment[] calldata payments,
        PaymentSignature[] calldata signatures
    ) external returns (uint256 paidCount);
    /// @notice Merchant cancels `amount` of a recorded payment (all or part, several times up to
    /// the whole); the payer gets that part of their money back. `record.cancelled` is what was
    /// cancelled before (from the last `PaymentCancelled`).
    function cancelPayment(PaymentRecord calldata record, uint256 amount) external;
    /// @notice Gift between citizens from the general pocket.
    function gift(address to, uint256 amount) external;

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
}
