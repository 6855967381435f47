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

    /// @notice Emitted when a registrar verifies a wallet.
    event IdentityRegistered(address indexed account, Kind kind, address indexed registrar);
    /// @notice Emitted when a wallet is frozen or unfrozen.
    event IdentityFrozenSet(address indexed account, bool frozen, address indexed registrar);

    /// @notice Registers `account` as `kind`.
    function register(address account, Kind kind) external;

    /// @notice Registers many wallets of one kind in one transaction.
    function registerBatch(address[] calldata accounts, Kind kind) external;

    /// @notice Freezes or unfreezes a registered wallet.
    function setFrozen(address account, bool frozen) external;

    /// @notice The kind and frozen flag of `account`.
    function identityOf(address account) external view returns (Kind kind, bool frozen);

    /// @notice Both parties of a movement in one call, to save a second external call.
    function identitiesOf(address a, address b)
        external
        view
        returns (Kind kindA, bool frozenA, Kind kindB, bool frozenB);
}
