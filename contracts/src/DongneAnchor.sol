// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title DongneAnchor
/// @notice Anchors the heads of the gateway's hash-chained logs (the staff action log) on chain:
/// whoever runs the gateway's database can recompute a chain of hashes after editing it, but
/// not the head that was anchored here. Auditors compare the log with the latest anchor.
contract DongneAnchor is AccessControl {
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    /// @notice Entries anchored so far, per log.
    mapping(bytes32 log => uint64) public anchoredEntries;

    /// @notice Thrown when an anchor would not extend the log (the log only grows).
    error AnchorNotForward(bytes32 log, uint64 entries, uint64 anchored);

    /// @notice Emitted for each anchor: the log's head hash after its first `entries` entries.
    event LogAnchored(bytes32 indexed log, bytes32 head, uint64 entries, address indexed by);

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHOR_ROLE, admin);
    }

    /// @notice Records `head`, the hash of `log` after its first `entries` entries.
    function anchor(bytes32 log, bytes32 head, uint64 entries) external onlyRole(ANCHOR_ROLE) {
        uint64 anchored = anchoredEntries[log];
        if (entries <= anchored) revert AnchorNotForward(log, entries, anchored);
        anchoredEntries[log] = entries;
        emit LogAnchored(log, head, entries, msg.sender);
    }
}
