// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {IVoucherAdmin} from "../src/interfaces/IVoucherAdmin.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherFactory} from "../src/interfaces/IVoucherFactory.sol";
import {IVoucherToken} from "../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {VoucherToken} from "../src/VoucherToken.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice A next implementation for the beacon: everything of VoucherToken plus `version()`.
contract VoucherTokenV2 is VoucherToken {
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address forwarder, IIdentityRegistry registry_, address adminModule_)
        VoucherToken(forwarder, registry_, adminModule_)
    {}

    function version() external pure returns (uint256) {
        return 2;
    }
}

/// @notice One call deploys a municipality behind the network's beacon; one beacon upgrade
/// moves every municipality to a new implementation with its state intact.
contract VoucherFactoryTest is DongneFixture {
    uint32 internal constant NATIONAL = 0;

    bytes32 internal deployerRole;

    // State seeded before an upgrade.
    IVoucherToken internal _seongnam;
    address internal _citizen;
    address internal _shop;
    address internal _seongnamShop;
    IVoucherTypes.PaymentRecord internal _rec;

    function setUp() public override {
        super.setUp();
        deployerRole = factory.DEPLOYER_ROLE();
    }

    // ================================================================== deployMunicipality

    function test_deployMunicipality_emitsAndIndexes() public {
        address predicted = vm.computeCreateAddress(address(factory), vm.getNonce(address(factory)));
        IVoucherTypes.Rules memory r = defaultRules();
        vm.expectEmit(true, true, true, true, predicted);
        emit IVoucherBase.MunicipalityInitialized(SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin);
        vm.expectEmit(true, true, true, true, predicted);
        emit IVoucherBase.RulesActivated(1, r);
        vm.expectEmit(true, true, true, true, address(factory));
        emit IVoucherFactory.MunicipalityDeployed(
            SEONGNAM, predicted, cityAdmin, "Seongnam Voucher", "SNV"
        );
        vm.prank(operator);
        address deployed =
            factory.deployMunicipality(SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin, r);
        assertEq(deployed, predicted, "address");
        assertEq(factory.tokenOf(SEONGNAM), deployed, "tokenOf");
        address[] memory all = factory.tokens();
        assertEq(all.length, 2, "two municipalities");
        assertEq(all[0], address(token), "Siheung first");
        assertEq(all[1], deployed, "Seongnam second");
    }

    function test_deployMunicipality_initializesToken() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 2_000_000;
        vm.prank(operator);
        IVoucherToken seongnam = IVoucherToken(
            factory.deployMunicipality(SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin, r)
        );
        assertEq(bytes32(bytes(seongnam.name())), bytes32("Seongnam Voucher"), "name");
        assertEq(bytes32(bytes(seongnam.symbol())), bytes32("SNV"), "symbol");
        assertEq(seongnam.decimals(), 0, "whole won");
        assertEq(seongnam.totalSupply(), 0, "supply");
        assertEq(seongnam.region(), SEONGNAM, "region");
        assertEq(seongnam.rulesVersion(), 1, "version");
        assertEq(seongnam.rules().holdingCap, 2_000_000, "own rules");
        assertEq(seongnam.identityRegistry(), address(registry), "shared registry");
        assertFalse(seongnam.paused(), "paused");
        VoucherToken core = VoucherToken(address(seongnam));
        assertTrue(core.hasRole(bytes32(0), cityAdmin), "city admin");
        assertFalse(core.hasRole(bytes32(0), operator), "operator is no city admin");
        assertFalse(core.hasRole(bytes32(0), address(factory)), "factory is no city admin");
        assertTrue(core.isTrustedForwarder(address(forwarder)), "forwarder");
    }

    function test_deployMunicipality_keepsStateApart() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address citizen = newCitizen();
        buy(citizen, 100_000);
        assertEq(token.balanceOf(citizen), 100_000, "Siheung");
        assertEq(seongnam.balanceOf(citizen), 0, "Seongnam");
        assertEq(seongnam.totalSupply(), 0, "Seongnam supply");
    }

    function test_deployMunicipality_national() public {
        vm.prank(operator);
        address national = factory.deployMunicipality(
            NATIONAL, "Onnuri Voucher", "ONV", cityAdmin, defaultRules()
        );
        assertEq(factory.tokenOf(NATIONAL), national, "tokenOf");
        assertEq(IVoucherToken(national).region(), NATIONAL, "region");
    }

    function test_deployMunicipality_regionBounds() public {
        vm.startPrank(operator);
        address low = factory.deployMunicipality(10_000, "Low", "LOW", cityAdmin, defaultRules());
        address high = factory.deployMunicipality(99_999, "High", "HIGH", cityAdmin, defaultRules());
        vm.stopPrank();
        assertEq(factory.tokenOf(10_000), low, "10000");
        assertEq(factory.tokenOf(99_999), high, "99999");
    }

    function test_deployMunicipality_byGrantedDeployer() public {
        address deployer = address(0xDE9);
        vm.prank(operator);
        factory.grantRole(deployerRole, deployer);
        vm.prank(deployer);
        address seongnam = factory.deployMunicipality(
            SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin, defaultRules()
        );
        assertEq(factory.tokenOf(SEONGNAM), seongnam, "tokenOf");
    }

    function test_RevertWhen_deployMunicipalityRegionTaken() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherFactory.FactoryRegionTaken.selector, SIHEUNG, address(token)
            )
        );
        factory.deployMunicipality(SIHEUNG, "Siheung 2", "SH2", cityAdmin, r);
    }

    function test_RevertWhen_deployMunicipalityNationalTwice() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(operator);
        address national = factory.deployMunicipality(NATIONAL, "Onnuri", "ONV", cityAdmin, r);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherFactory.FactoryRegionTaken.selector, NATIONAL, national)
        );
        factory.deployMunicipality(NATIONAL, "Onnuri 2", "ON2", cityAdmin, r);
    }

    function test_RevertWhen_deployMunicipalityRegionTooShort() public {
        _expectInvalidRegion(9999);
    }

    function test_RevertWhen_deployMunicipalityRegionTooLong() public {
        _expectInvalidRegion(100_000);
    }

    function test_RevertWhen_deployMunicipalityRegionOne() public {
        _expectInvalidRegion(1);
    }

    function test_RevertWhen_deployMunicipalityRegionMaxUint32() public {
        _expectInvalidRegion(type(uint32).max);
    }

    function test_RevertWhen_deployMunicipalityZeroAdmin() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(operator);
        vm.expectRevert(IVoucherFactory.FactoryZeroAdmin.selector);
        factory.deployMunicipality(SEONGNAM, "Seongnam Voucher", "SNV", address(0), r);
    }

    function test_RevertWhen_deployMunicipalityByNonDeployer() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, deployerRole
            )
        );
        factory.deployMunicipality(SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin, r);
    }

    function test_RevertWhen_deployMunicipalityInvalidRules() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 0;
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvalidRule.selector, bytes32("holdingCap"))
        );
        factory.deployMunicipality(SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin, r);
        assertEq(factory.tokenOf(SEONGNAM), address(0), "region still free");
        assertEq(factory.tokens().length, 1, "not indexed");
    }

    function test_tokenOf_unknownRegionIsZero() public view {
        assertEq(factory.tokenOf(SEONGNAM), address(0), "none");
    }

    // ================================================================== initialisation

    function test_RevertWhen_initializeProxyTwice() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(cityAdmin);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        IVoucherAdmin(address(token)).initialize(SIHEUNG, "Hijack", "HJ", address(0xBAD), r);
    }

    function test_RevertWhen_initializeProxyTwiceByOperator() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(operator);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        IVoucherAdmin(address(token)).initialize(SEONGNAM, "Hijack", "HJ", operator, r);
    }

    function test_RevertWhen_initializeImplementation() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(address(0xBAD));
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        IVoucherAdmin(address(implementation))
            .initialize(SIHEUNG, "Hijack", "HJ", address(0xBAD), r);
    }

    function test_RevertWhen_implementationUsedDirectly() public {
        // The implementation has no admin: its admin half (through the fallback) refuses all.
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, bytes32(0)
            )
        );
        IVoucherToken(address(implementation)).proposeRules(r);
    }

    function test_RevertWhen_implementationIssues() public {
        bytes32 issuerRole = implementation.ISSUER_ROLE();
        address citizen = newCitizen();
        vm.prank(issuer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, issuer, issuerRole
            )
        );
        implementation.issue(citizen, 10_000, 9000);
    }

    function test_RevertWhen_adminModuleUsedDirectly() public {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, bytes32(0)
            )
        );
        adminModule.proposeRules(r);
    }

    function test_RevertWhen_adminModuleRegistersMerchantDirectly() public {
        bytes32 registrarRole = adminModule.MERCHANT_REGISTRAR_ROLE();
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, registrar, registrarRole
            )
        );
        adminModule.registerMerchant(address(0x5409), SIHEUNG, KSIC_GROCERY, 0, false);
    }

    function test_RevertWhen_adminModuleInitialized() public {
        // The module has no initializer and no fallback: the call has nowhere to go.
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(address(0xBAD));
        vm.expectRevert();
        IVoucherAdmin(address(adminModule)).initialize(SIHEUNG, "Hijack", "HJ", address(0xBAD), r);
    }

    function test_adminModule_holdsNoState() public view {
        assertEq(adminModule.rulesVersion(), 0, "no rules");
        assertEq(adminModule.region(), 0, "no region");
        assertFalse(adminModule.hasRole(bytes32(0), cityAdmin), "no admin");
        assertEq(implementation.adminModule(), address(adminModule), "wired");
    }

    // ================================================================== beacon upgrade

    function test_beacon_ownedByOperator() public view {
        assertEq(factory.beacon(), address(beacon), "beacon");
        assertEq(beacon.implementation(), address(implementation), "implementation");
        assertEq(beacon.owner(), operator, "owner");
    }

    function test_upgrade_reachesEveryMunicipalityAndKeepsState() public {
        _seedTwoCities();
        uint256 citizenBalance = token.balanceOf(_citizen);
        uint256 supply = token.totalSupply();
        uint256 seongnamSupply = _seongnam.totalSupply();

        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        vm.expectEmit(true, true, true, true, address(beacon));
        emit UpgradeableBeacon.Upgraded(address(v2));
        vm.prank(operator);
        beacon.upgradeTo(address(v2));

        assertEq(VoucherTokenV2(address(token)).version(), 2, "Siheung upgraded");
        assertEq(VoucherTokenV2(address(_seongnam)).version(), 2, "Seongnam upgraded");
        assertEq(token.balanceOf(_citizen), citizenBalance, "citizen");
        assertEq(token.balanceOf(_shop), 50_000, "merchant");
        assertEq(token.totalSupply(), supply, "supply");
        assertEq(_seongnam.balanceOf(_seongnamShop), 30_000, "Seongnam merchant");
        assertEq(_seongnam.totalSupply(), seongnamSupply, "Seongnam supply");
        _assertSiheungSettingsKept();
        _assertSiheungRecordsKept();
    }

    function test_upgrade_keepsWorkingOnNewImplementation() public {
        _seedTwoCities();
        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        vm.prank(operator);
        beacon.upgradeTo(address(v2));

        vm.prank(_shop);
        token.cancelPayment(_rec, _rec.amount);
        assertEq(token.balanceOf(_shop), 0, "cancelled after upgrade");
        vm.warp(T0 + 1 days);
        token.activateRules();
        assertEq(token.rules().maxDiscountBps, 700, "activated after upgrade");
        vm.prank(issuer);
        token.issue(_citizen, 10_000, 9300);
        vm.prank(_citizen);
        _seongnam.pay(_seongnamShop, 10_000, bytes32(0), noPrograms());
        assertEq(_seongnam.balanceOf(_seongnamShop), 40_000, "Seongnam pays after upgrade");
    }

    function test_upgrade_newMunicipalitiesUseNewImplementation() public {
        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        vm.prank(operator);
        beacon.upgradeTo(address(v2));
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        assertEq(VoucherTokenV2(address(seongnam)).version(), 2, "version");
        assertEq(seongnam.region(), SEONGNAM, "initialised");
    }

    function test_upgrade_rollback() public {
        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        address citizen = newCitizen();
        buy(citizen, 100_000);
        vm.startPrank(operator);
        beacon.upgradeTo(address(v2));
        beacon.upgradeTo(address(implementation));
        vm.stopPrank();
        (bool ok,) = address(token).call(abi.encodeCall(VoucherTokenV2.version, ()));
        // Unknown selectors go to the admin module, which has no `version()` either.
        assertFalse(ok, "version() gone");
        assertEq(token.balanceOf(citizen), 100_000, "balance kept");
    }

    function test_RevertWhen_upgradeByNonOwner() public {
        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, cityAdmin)
        );
        beacon.upgradeTo(address(v2));
    }

    function test_RevertWhen_upgradeByFactory() public {
        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        vm.prank(address(factory));
        vm.expectRevert(
            abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(factory))
        );
        beacon.upgradeTo(address(v2));
    }

    function test_RevertWhen_upgradeToNonContract() public {
        address notCode = address(0xC0DE);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(UpgradeableBeacon.BeaconInvalidImplementation.selector, notCode)
        );
        beacon.upgradeTo(notCode);
    }

    // ================================================================== fuzz

    function testFuzz_deployMunicipality_region(uint32 region) public {
        bool valid = region == 0 || (region >= 10_000 && region <= 99_999);
        IVoucherTypes.Rules memory r = defaultRules();
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherFactory.FactoryInvalidRegion.selector, region)
            );
        } else if (region == SIHEUNG) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherFactory.FactoryRegionTaken.selector, SIHEUNG, address(token)
                )
            );
        }
        vm.prank(operator);
        address deployed = factory.deployMunicipality(region, "City", "CTY", cityAdmin, r);
        if (!valid || region == SIHEUNG) return;
        assertEq(factory.tokenOf(region), deployed, "tokenOf");
        assertEq(IVoucherToken(deployed).region(), region, "region");
    }

    function testFuzz_RevertWhen_deployMunicipalityByNonDeployer(address caller) public {
        vm.assume(caller != operator);
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, caller, deployerRole
            )
        );
        factory.deployMunicipality(SEONGNAM, "Seongnam Voucher", "SNV", cityAdmin, r);
    }

    function testFuzz_upgrade_keepsBalances(uint256 face, uint256 spent) public {
        face = bound(face, 10, 700_000);
        face -= face % 10;
        spent = bound(spent, 1, face);
        address citizen = newCitizen();
        address shop = newMerchant(KSIC_GROCERY, 2);
        buy(citizen, face);
        payGeneral(citizen, shop, spent);
        uint256 citizenBalance = token.balanceOf(citizen);
        uint256 supply = token.totalSupply();
        VoucherTokenV2 v2 = new VoucherTokenV2(address(forwarder), registry, address(adminModule));
        vm.prank(operator);
        beacon.upgradeTo(address(v2));
        assertEq(token.balanceOf(citizen), citizenBalance, "citizen");
        assertEq(token.balanceOf(shop), spent, "merchant");
        assertEq(token.totalSupply(), supply, "supply");
    }

    // ================================================================== helpers

    /// @dev Two municipalities with money, merchants, a payment on record, pending rules and a
    /// blocked institution category.
    function _seedTwoCities() private {
        _seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        _citizen = newCitizen();
        _shop = newMerchant(KSIC_RESTAURANT, 1);
        _seongnamShop = newMerchantOf(_seongnam, SEONGNAM, KSIC_GROCERY, 0, false);
        buy(_citizen, 200_000);
        _rec = payGeneralRecord(_citizen, _shop, 50_000);
        vm.prank(issuer);
        _seongnam.issue(_citizen, 100_000, 95_000);
        vm.prank(_citizen);
        _seongnam.pay(_seongnamShop, 30_000, bytes32(0), noPrograms());
        IVoucherTypes.Rules memory next = defaultRules();
        next.maxDiscountBps = 700;
        vm.startPrank(cityAdmin);
        token.proposeRules(next);
        token.setInstitutionCategory(KSIC_BAR, true);
        vm.stopPrank();
    }

    function _assertSiheungSettingsKept() private view {
        assertEq(
            keccak256(abi.encode(token.rules())), keccak256(abi.encode(defaultRules())), "rules"
        );
        assertEq(token.rulesVersion(), 1, "version");
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        assertEq(pending.maxDiscountBps, 700, "pending rules");
        assertEq(effectiveAt, T0 + 1 days, "pending time");
        assertTrue(token.isInstitutionCategoryBlocked(KSIC_BAR), "blocked category");
        assertEq(token.region(), SIHEUNG, "region");
        assertEq(bytes32(bytes(token.name())), bytes32("Siheung Voucher"), "name");
        VoucherToken core = VoucherToken(address(token));
        assertTrue(core.hasRole(core.ISSUER_ROLE(), issuer), "issuer role");
        assertTrue(core.hasRole(bytes32(0), cityAdmin), "admin role");
    }

    function _assertSiheungRecordsKept() private view {
        IVoucherTypes.Merchant memory m = token.merchantOf(_shop);
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.Active), "merchant status");
        assertEq(m.tier, 1, "merchant tier");
        assertEq(m.category, KSIC_RESTAURANT, "merchant category");
        (uint256 monthPurchased, uint256 cashbackBase,,, uint256 boughtFace,, uint256 seq) =
            token.accountOf(_citizen);
        assertEq(monthPurchased, 200_000, "purchased");
        assertEq(cashbackBase, 50_000, "cashback base");
        assertEq(boughtFace, 200_000, "refund basis");
        assertEq(seq, 1, "seq");
        assertTrue(token.isPaymentOnRecord(_shop, _rec), "payment still on record");
    }

    function _expectInvalidRegion(uint32 region) private {
        IVoucherTypes.Rules memory r = defaultRules();
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherFactory.FactoryInvalidRegion.selector, region)
        );
        factory.deployMunicipality(region, "Nowhere", "NOW", cityAdmin, r);
    }
}
