// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title DongneTimelock
/// @notice Owns the voucher beacon: an upgrade of every city's token is scheduled in public and
/// runs only after `minDelay`, so cities, banks and auditors see it coming (and a canceller can
/// stop it). Proposers, executors and cancellers are deploy parameters; the timelock administers
/// itself (a change of delay or roles is itself a delayed operation).
contract DongneTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors)
        TimelockController(minDelay, proposers, executors, address(0))
    {}
}
