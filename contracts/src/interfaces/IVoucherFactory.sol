// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherTypes} from "./IVoucherTypes.sol";

/// @title Deploys one voucher token per municipality behind the network's beacon
interface IVoucherFactory is IVoucherTypes {
    /// @notice Thrown when a region already has its voucher token.
    error FactoryRegionTaken(uint32 region, address token);
    /// @notice Thrown when a region code is not a 5-digit legal-district code (or 0, national).
    error FactoryInvalidRegion(uint32 region);
    /// @notice Thrown when the municipality's admin is the zero address.
    error FactoryZeroAdmin();

    /// @notice Emitted when a municipality's voucher token is deployed.
    event MunicipalityDeployed(
        uint32 indexed region,
        address indexed token,
        address indexed admin,
        string name,
        string symbol
    );

    /// @notice Deploys `region`'s voucher token with its initial rules, admin-owned.
    function deployMunicipality(
        uint32 region,
        string calldata name,
        string calldata symbol,
        address admin,
        Rules calldata rules
    ) external returns (address token);

    /// @notice The beacon every municipality's proxy follows.
    function beacon() external view returns (address);
    /// @notice The token of `region`, or the zero address.
    function tokenOf(uint32 region) external view returns (address);
    /// @notice Every deployed token, in deployment order.
    function tokens() external view returns (address[] memory);
}
