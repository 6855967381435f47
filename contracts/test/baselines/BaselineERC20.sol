// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";

// Gas baselines for scripts/bench_gas.py and scripts/bench_distribution.py: the peers our
// receipts are compared with, built by forge with the project's compiler settings and EVM version
// so both sides run on the same compiler and the same fork. Test-only: minting is open to
// anyone, so none of these may ever hold value or be deployed outside a benchmark.

/// @title A plain OpenZeppelin ERC20 with open mint and burn, and the OZ mint-loop airdrop
contract BaselineERC20 is ERC20 {
    constructor() ERC20("Baseline", "BASE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }

    /// @notice The "OZ ERC20 mint loop" airdrop: one `_mint` per recipient.
    function mintBatch(address[] calldata recipients, uint256[] calldata amounts) external {
        for (uint256 i = 0; i < recipients.length; ++i) {
            _mint(recipients[i], amounts[i]);
        }
    }
}

/// @title An OpenZeppelin ERC20 that takes relayed calls from a trusted ERC2771Forwarder
/// @dev Deployed trusting our DongneForwarder (OpenZeppelin's forwarder, unchanged), so relayed
/// transfers measure the same forwarder code path as relayed payments.
contract BaselineForwardedERC20 is ERC20, ERC2771Context {
    constructor(address forwarder) ERC20("Baseline Forwarded", "BFWD") ERC2771Context(forwarder) {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength()
        internal
        view
        override(Context, ERC2771Context)
        returns (uint256)
    {
        return ERC2771Context._contextSuffixLength();
    }
}

/// @title A GasliteDrop-style packed airdrop into an OpenZeppelin ERC20
/// @notice Each word is `recipient << 96 | amount` (a uint96), as GasliteDrop packs them; the loop
/// mints straight into the token's balances through OZ's `_update` (a `_mint` without the
/// zero-address check) and emits `Transfer`. No proofs, no bitmap, no per-recipient checks: the
/// floor any verifiable distribution is measured against.
contract BaselinePackedAirdrop is ERC20 {
    constructor() ERC20("Baseline Airdrop", "BAIR") {}

    function airdrop(bytes32[] calldata packed) external {
        for (uint256 i = 0; i < packed.length; ++i) {
            uint256 word = uint256(packed[i]);
            _update(address(0), address(uint160(word >> 96)), uint96(word));
        }
    }
}
