// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Network-wide registry of verified wallets
/// @notice KYC registrars record each wallet once as a citizen, merchant or institution; every
/// municipality's voucher token reads it. Unregistered or frozen wallets can neither send nor
/// receive vouchers. A wallet's kind never changes: a citizen turned merchant would redeem
/// discounted vouchers at face value (the subsidy cashed out), a merchant turned citizen would
/// spend shop revenue again. A new role takes a new wallet.
interface IIdentityRegistry {
    /// @notice What a verified wallet is. `None` means unregistered.
    enum Kind {
        None,
        Citizen,
        Merchant,
        Institution
    }

    /// @notice Thrown when a registration names `Kind.None`.
    error IdentityInvalidKind(address account);
    /// @notice Thrown when registering a wallet that is already registered.
    error IdentityAlreadyRegistered(address account, Kind kind);
    /// @notice Thrown when acting on a wallet that is not registered.
    error IdentityUnregistered(address account);
    /// @notice Thrown when the zero address is registered.
    error IdentityZeroAddress();
    /// @notice Thrown when a recovery is invalid; `field` names the problem.
    error IdentityRecoveryInvalid(address lost, bytes32 field);
    /// @notice Thrown when a wallet already has a recovery under way.
    error IdentityRecoveryPending(address lost);
    /// @notice Thrown when cancelling or finalising a recovery that was never started.
    error IdentityNoRecovery(address lost);
    /// @notice Thrown when finalising a recovery before its delay has passed.
    error IdentityRecoveryNotYetEffective(address lost, uint256 effectiveAt);
    /// @notice Thrown when acting on a wallet whose recovery was finalised: it stays frozen.
    error IdentityRecovered(address lost, address to);
    /// @notice Thrown when someone other than a registrar or the lost wallet cancels a recovery.
    error IdentityNotAuthorized(address caller);

    /// @notice Emitted when a registrar verifies a wallet.
    event IdentityRegistered(address indexed account, Kind kind, address indexed registrar);
    /// @notice Emitted when a wallet is frozen or unfrozen.
    event IdentityFrozenSet(address indexed account, bool frozen, address indexed registrar);
    /// @notice Emitted when a registrar starts moving a lost wallet to the same person's new one.
    event RecoveryStarted(
        address indexed lost, address indexed to, uint256 effectiveAt, address indexed registrar
    );
    /// @notice Emitted when a recovery is cancelled by a registrar or by the lost wallet's key.
    event RecoveryCancelled(address indexed lost, address indexed by);
    /// @notice Emitted when a recovery becomes final: the lost wallet is frozen for good.
    event RecoveryFinalized(address indexed lost, address indexed to);
    /// @notice Emitted when the network's recovery delay changes.
    event RecoveryDelaySet(uint256 delay);

    /// @notice Registers `account` as `kind`.
    function register(address account, Kind kind) external;

    /// @notice Registers many wallets of one kind in one transaction.
    function registerBatch(address[] calldata accounts, Kind kind) external;

    /// @notice Freezes or unfreezes a registered wallet.
    function setFrozen(address account, bool frozen) external;

    /// @notice The kind and frozen flag of `account`.
    function identityOf(address account) external view returns (Kind kind, bool frozen);

    /// @notice A registrar starts recovering `lost` to `to`, a verified wallet of the same person
    /// and kind: `lost` is frozen now, and the recovery can be finalised after the delay, during
    /// which the lost key (or a registrar) can still cancel it.
    function startRecovery(address lost, address to) external;

    /// @notice Cancels a pending recovery; callable by a registrar or by `lost` itself (relayed).
    /// The lost wallet stays frozen until a registrar unfreezes it. The lost key vetoes once:
    /// a recovery a registrar starts after that veto only a registrar can cancel.
    function cancelRecovery(address lost) external;

    /// @notice Makes a recovery final once its delay has passed; anyone may call.
    function finalizeRecovery(address lost) external;

    /// @notice Seconds between starting and finalising a recovery.
    function recoveryDelay() external view returns (uint256);

    /// @notice The wallet a finalised recovery moved `lost` to (0: none).
    function recoveredTo(address lost) external view returns (address);

    /// @notice A pending recovery of `lost` (to = 0: none).
    function pendingRecovery(address lost) external view returns (address to, uint256 effectiveAt);

    /// @notice Both parties of a movement in one call, to save a second external call.
    function identitiesOf(address a, address b)
        external
        view
        returns (Kind kindA, bool frozenA, Kind kindB, bool frozenB);

    /// @notice Sets the voucher factory whose tokens this registry tells to forget a wallet the
    /// moment it is frozen; only then may those tokens mirror identities (the deployment sets it
    /// once, after deploying the factory).
    function setFactory(address factory) external;

    /// @notice The factory set by `setFactory` (0: none; tokens then never mirror).
    function factory() external view returns (address);

    /// @notice As `identitiesOf`, called by a voucher token of `region`: `mirrorable` is true
    /// when the token is the factory's token of that region, so this registry pushes every
    /// freeze to it and it may keep the answer in its own storage.
    function mirrorableIdentitiesOf(address a, address b, uint32 region)
        external
        view
        returns (Kind kindA, bool frozenA, Kind kindB, bool frozenB, bool mirrorable);
}
