// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IIdentityRegistry} from "../../src/interfaces/IIdentityRegistry.sol";
import {VoucherBase} from "../../src/VoucherBase.sol";

/// @notice An implementation from before the copy, as a rollback brings back: it pauses and
/// activates rules by writing the truth (`paused`, `rulesVersion`) and nothing else. Used by
/// VoucherPayRules.t.sol and, deployed on anvil, by tests/chain/test_upgrades.py.
contract VoucherWithoutPayRules is VoucherBase {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address forwarder, IIdentityRegistry registry_) VoucherBase(forwarder, registry_) {
        _disableInitializers();
    }

    function setPaused(bool paused_) external onlyRole(PAUSER_ROLE) {
        _s().paused = paused_;
    }

    function activateRules() external {
        VoucherStorage storage $ = _s();
        if ($.pendingAt == 0 || block.timestamp < $.pendingAt) revert VoucherNoPendingRules();
        $.rulesVersion += 1;
        $.pendingAt = 0;
    }
}
