// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";

/// @notice The EIP-712 digest a wallet signs for `payBySig`, built from the literal type and
/// domain a wallet would pin rather than the contract's constants, so that a change to either
/// fails the tests that sign with it.
library SignedPayments {
    bytes32 internal constant PAYMENT_TYPE = keccak256(
        "SignedPayment(address payer,address merchant,uint256 amount,bytes32 paymentId,uint256[] programIds,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant DOMAIN_TYPE = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    /// @dev The digest of `p` under the domain of the city token (proxy) `city`.
    function digest(address city, IVoucherTypes.SignedPayment memory p)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPE, keccak256("Dongne Voucher"), keccak256("1"), block.chainid, city
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                PAYMENT_TYPE,
                p.payer,
                p.merchant,
                p.amount,
                p.paymentId,
                keccak256(abi.encodePacked(p.programIds)),
                p.nonce,
                p.deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// @dev EIP-2098 compact form of (v, r, s), as `payBySig` takes it: `v - 27` in the top
    /// bit of `s`.
    function compact(uint8 v, bytes32 r, bytes32 s)
        internal
        pure
        returns (IVoucherTypes.PaymentSignature memory)
    {
        return IVoucherTypes.PaymentSignature(r, bytes32(uint256(v - 27) << 255 | uint256(s)));
    }
}
