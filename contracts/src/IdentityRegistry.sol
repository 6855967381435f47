// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";

/// @title IdentityRegistry
/// @notice One registry for the whole network, written by KYC registrars (the operator and the
/// participating banks). Registrars call it directly with their own keys, so it does not take
/// relayed calls.
contract IdentityRegistry is IIdentityRegistry, AccessControl {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    struct Identity {
        Kind kind;
        bool frozen;
    }

    mapping(address account => Identity) private _identities;

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @inheritdoc IIdentityRegistry
    function register(address account, Kind kind) external onlyRole(REGISTRAR_ROLE) {
        _register(account, kind);
    }

    /// @inheritdoc IIdentityRegistry
    function registerBatch(address[] calldata accounts, Kind kind)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        for (uint256 i = 0; i < accounts.length; ++i) {
            _register(accounts[i], kind);
        }
    }

    /// @inheritdoc IIdentityRegistry
    function setFrozen(address account, bool frozen) external onlyRole(REGISTRAR_ROLE) {
        Identity storage identity = _identities[account];
        if (identity.kind == Kind.None) revert IdentityUnregistered(account);
        identity.frozen = frozen;
        emit IdentityFrozenSet(account, frozen, msg.sender);
    }

    /// @inheritdoc IIdentityRegistry
    function identityOf(address account) external view returns (Kind kind, bool frozen) {
        Identity storage identity = _identities[account];
        return (identity.kind, identity.frozen);
    }

    /// @inheritdoc IIdentityRegistry
    function identitiesOf(address a, address b)
        external
        view
        returns (Kind kindA, bool frozenA, Kind kindB, bool frozenB)
    {
        Identity storage ia = _identities[a];
        Identity storage ib = _identities[b];
        return (ia.kind, ia.frozen, ib.kind, ib.frozen);
    }

    function _register(address account, Kind kind) private {
        if (account == address(0)) revert IdentityZeroAddress();
        if (kind == Kind.None) revert IdentityInvalidKind(account);
        Identity storage identity = _identities[account];
        if (identity.kind != Kind.None) revert IdentityAlreadyRegistered(account, identity.kind);
        identity.kind = kind;
        emit IdentityRegistered(account, kind, msg.sender);
    }
}
