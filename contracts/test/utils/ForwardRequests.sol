// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @notice The EIP-712 digest a wallet signs for the forwarder, built from the literal type and
/// domain the gateway's wallets pin rather than the forwarder's own hashing, so that a change to
/// either fails the tests that sign with it.
library ForwardRequests {
    bytes32 internal constant REQUEST_TYPE = keccak256(
        "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)"
    );
    bytes32 internal constant DOMAIN_TYPE = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    /// @dev The digest of `req` with the signer's forwarder nonce `nonce`, under the domain of
    /// the DongneForwarder at `forwarder`.
    function digest(
        address forwarder,
        ERC2771Forwarder.ForwardRequestData memory req,
        uint256 nonce
    ) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPE, keccak256("DongneForwarder"), keccak256("1"), block.chainid, forwarder
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                REQUEST_TYPE,
                req.from,
                req.to,
                req.value,
                req.gas,
                nonce,
                req.deadline,
                keccak256(req.data)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}
