// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {IVoucherAdmin} from "./interfaces/IVoucherAdmin.sol";
import {IVoucherFactory} from "./interfaces/IVoucherFactory.sol";

/// @title IdentityRegistry
/// @notice One registry for the whole network, written by KYC registrars (the operator and the
/// participating banks) with their own keys. It trusts the network's forwarder only so that a
/// lost wallet's key, which holds no gas, can cancel a recovery it did not ask for.
contract IdentityRegistry is IIdentityRegistry, AccessControl, ERC2771Context {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @dev A delay longer than this would lock a person out of their money for too long.
    uint256 private constant MAX_RECOVERY_DELAY = 30 days;

    struct Identity {
        Kind kind;
        bool frozen;
    }

    struct Recovery {
        address to;
        uint40 effectiveAt;
        // False once the lost key has vetoed a recovery: the registrar, having checked the
        // person again, restarts one that only a registrar can cancel, so a thief holding the
        // lost phone cannot cancel every recovery (and keep the money frozen) for ever.
        bool vetoable;
    }

    mapping(address account => Identity) private _identities;
    mapping(address lost => Recovery) private _pending;
    mapping(address lost => address to) private _recoveredTo;
    mapping(address lost => bool) private _vetoed;
    uint256 private _recoveryDelay;
    // The factory whose tokens mirror identities; every freeze is pushed to each of them.
    address private _factory;

    constructor(address admin, address forwarder, uint256 recoveryDelay_)
        ERC2771Context(forwarder)
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
        _setRecoveryDelay(recoveryDelay_);
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
        address to = _recoveredTo[account];
        if (to != address(0)) revert IdentityRecovered(account, to);
        bool freezing = frozen && !identity.frozen;
        identity.frozen = frozen;
        emit IdentityFrozenSet(account, frozen, _msgSender());
        if (freezing) _forgetInTokens(account);
    }

    /// @inheritdoc IIdentityRegistry
    function setFactory(address factory_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _factory = factory_;
    }

    /// @inheritdoc IIdentityRegistry
    function factory() external view returns (address) {
        return _factory;
    }

    /// @notice Sets the delay between starting and finalising a recovery.
    function setRecoveryDelay(uint256 delay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setRecoveryDelay(delay);
    }

    /// @inheritdoc IIdentityRegistry
    function startRecovery(address lost, address to) external onlyRole(REGISTRAR_ROLE) {
        Identity storage l = _identities[lost];
        Identity storage t = _identities[to];
        if (l.kind == Kind.None) revert IdentityUnregistered(lost);
        if (t.kind == Kind.None) revert IdentityUnregistered(to);
        if (lost == to) revert IdentityRecoveryInvalid(lost, "same");
        if (t.kind != l.kind) revert IdentityRecoveryInvalid(lost, "kind");
        if (t.frozen) revert IdentityRecoveryInvalid(lost, "frozen");
        address done = _recoveredTo[lost];
        if (done != address(0)) revert IdentityRecovered(lost, done);
        if (_recoveredTo[to] != address(0)) revert IdentityRecovered(to, _recoveredTo[to]);
        if (_pending[lost].to != address(0)) revert IdentityRecoveryPending(lost);
        uint256 effectiveAt = block.timestamp + _recoveryDelay;
        _pending[lost] = Recovery(to, uint40(effectiveAt), !_vetoed[lost]);
        if (!l.frozen) {
            l.frozen = true;
            emit IdentityFrozenSet(lost, true, _msgSender());
            _forgetInTokens(lost);
        }
        emit RecoveryStarted(lost, to, effectiveAt, _msgSender());
    }

    /// @inheritdoc IIdentityRegistry
    function cancelRecovery(address lost) external {
        address caller = _msgSender();
        if (caller != lost && !hasRole(REGISTRAR_ROLE, caller)) {
            revert IdentityNotAuthorized(caller);
        }
        Recovery memory r = _pending[lost];
        if (r.to == address(0)) revert IdentityNoRecovery(lost);
        if (caller == lost && !hasRole(REGISTRAR_ROLE, caller)) {
            if (!r.vetoable) revert IdentityNotAuthorized(caller);
            _vetoed[lost] = true;
        }
        delete _pending[lost];
        emit RecoveryCancelled(lost, caller);
    }

    /// @inheritdoc IIdentityRegistry
    function finalizeRecovery(address lost) external {
        Recovery memory r = _pending[lost];
        if (r.to == address(0)) revert IdentityNoRecovery(lost);
        if (block.timestamp < r.effectiveAt) {
            revert IdentityRecoveryNotYetEffective(lost, r.effectiveAt);
        }
        // The new wallet must still be usable: recovered or frozen since the start (or about to
        // be recovered itself), money moved into it would be stuck.
        if (_recoveredTo[r.to] != address(0) || _pending[r.to].to != address(0)) {
            revert IdentityRecoveryInvalid(lost, "target");
        }
        if (_identities[r.to].frozen) revert IdentityRecoveryInvalid(lost, "frozen");
        delete _pending[lost];
        _recoveredTo[lost] = r.to;
        bool freezing = !_identities[lost].frozen;
        _identities[lost].frozen = true;
        emit RecoveryFinalized(lost, r.to);
        if (freezing) _forgetInTokens(lost);
    }

    /// @inheritdoc IIdentityRegistry
    function recoveryDelay() external view returns (uint256) {
        return _recoveryDelay;
    }

    /// @inheritdoc IIdentityRegistry
    function recoveredTo(address lost) external view returns (address) {
        return _recoveredTo[lost];
    }

    /// @inheritdoc IIdentityRegistry
    function pendingRecovery(address lost) external view returns (address to, uint256 effectiveAt) {
        Recovery memory r = _pending[lost];
        return (r.to, r.effectiveAt);
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

    /// @inheritdoc IIdentityRegistry
    function mirrorableIdentitiesOf(address a, address b, uint32 region)
        external
        view
        returns (Kind kindA, bool frozenA, Kind kindB, bool frozenB, bool mirrorable)
    {
        Identity storage ia = _identities[a];
        Identity storage ib = _identities[b];
        address factory_ = _factory;
        mirrorable =
            factory_ != address(0) && IVoucherFactory(factory_).tokenOf(region) == msg.sender;
        return (ia.kind, ia.frozen, ib.kind, ib.frozen, mirrorable);
    }

    /// @dev A wallet being frozen: every token of the factory drops its mirror of it (one that
    /// has none only reads a slot), so the freeze holds at once in every municipality. Only a
    /// freeze is pushed: a frozen wallet's movements revert before any mirror is written, so
    /// no token mirrors it while frozen, and after an unfreeze the next movement asks again.
    function _forgetInTokens(address account) private {
        address factory_ = _factory;
        if (factory_ == address(0)) return;
        address[] memory tokens = IVoucherFactory(factory_).tokens();
        for (uint256 i = 0; i < tokens.length; ++i) {
            IVoucherAdmin(tokens[i]).forgetIdentity(account);
        }
    }

    function _register(address account, Kind kind) private {
        if (account == address(0)) revert IdentityZeroAddress();
        if (kind == Kind.None) revert IdentityInvalidKind(account);
        Identity storage identity = _identities[account];
        if (identity.kind != Kind.None) revert IdentityAlreadyRegistered(account, identity.kind);
        identity.kind = kind;
        emit IdentityRegistered(account, kind, _msgSender());
    }

    function _setRecoveryDelay(uint256 delay) private {
        if (delay > MAX_RECOVERY_DELAY) revert IdentityRecoveryInvalid(address(0), "delay");
        _recoveryDelay = delay;
        emit RecoveryDelaySet(delay);
    }

    // ------------------------------------------------------------------ ERC-2771 plumbing

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
