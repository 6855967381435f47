// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {BeaconProxy} from "@openzeppelin/contracts/proxy/beacon/BeaconProxy.sol";
import {IVoucherFactory} from "./interfaces/IVoucherFactory.sol";
import {IVoucherAdmin} from "./interfaces/IVoucherAdmin.sol";

/// @title VoucherFactory
/// @notice One call deploys a municipality; the beacon (owned by the operator) upgrades all.
contract VoucherFactory is IVoucherFactory, AccessControl {
    bytes32 public constant DEPLOYER_ROLE = keccak256("DEPLOYER_ROLE");

    address private immutable _beacon;
    mapping(uint32 region => address token) private _tokenOf;
    address[] private _tokens;

    constructor(address beacon_, address admin) {
        _beacon = beacon_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DEPLOYER_ROLE, admin);
    }

    /// @inheritdoc IVoucherFactory
    function deployMunicipality(
        uint32 region,
        string calldata name,
        string calldata symbol,
        address admin,
        Rules calldata rules
    ) external onlyRole(DEPLOYER_ROLE) returns (address token) {
        // 0 is the national voucher; otherwise the 5-digit 법정동 prefix (11000 Seoul .. 5xxxx).
        if (region != 0 && (region < 10_000 || region > 99_999)) {
            revert FactoryInvalidRegion(region);
        }
        if (admin == address(0)) revert FactoryZeroAdmin();
        address existing = _tokenOf[region];
        if (existing != address(0)) revert FactoryRegionTaken(region, existing);
        bytes memory init =
            abi.encodeCall(IVoucherAdmin.initialize, (region, name, symbol, admin, rules));
        token = address(new BeaconProxy(_beacon, init));
        _tokenOf[region] = token;
        _tokens.push(token);
        emit MunicipalityDeployed(region, token, admin, name, symbol);
    }

    /// @inheritdoc IVoucherFactory
    function beacon() external view returns (address) {
        return _beacon;
    }

    /// @inheritdoc IVoucherFactory
    function tokenOf(uint32 region) external view returns (address) {
        return _tokenOf[region];
    }

    /// @inheritdoc IVoucherFactory
    function tokens() external view returns (address[] memory) {
        return _tokens;
    }
}
