// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";
import {DongneForwarder} from "../../src/DongneForwarder.sol";
import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {IIdentityRegistry} from "../../src/interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "../../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {VoucherAdmin} from "../../src/VoucherAdmin.sol";
import {VoucherFactory} from "../../src/VoucherFactory.sol";
import {VoucherServices} from "../../src/VoucherServices.sol";
import {VoucherToken} from "../../src/VoucherToken.sol";
import {Test} from "./Test.sol";
import {Vm} from "./Vm.sol";
import {PaidLogs} from "./PaidLogs.sol";

/// @notice Deploys the whole network the way production does (forwarder, registry, admin
/// module, implementation, beacon, factory) and one municipality, Siheung (41390), with
/// today's rules. Tests add people with the helpers below.
abstract contract DongneFixture is Test {
    uint32 internal constant SIHEUNG = 41_390;
    uint32 internal constant SEONGNAM = 41_130;
    uint24 internal constant KSIC_RESTAURANT = 56_111;
    uint24 internal constant KSIC_BAR = 56_211;
    uint24 internal constant KSIC_GROCERY = 47_121;

    // 2026-11-02 10:00 KST, a Monday early in the month.
    uint256 internal constant T0 = 1_793_581_200;

    address internal operator = address(0xD0);
    address internal cityAdmin = address(0xC17);
    address internal issuer = address(0x155);
    address internal registrar = address(0x4E6);
    address internal manager = address(0x3A6);
    address internal pauser = address(0x9A5);

    DongneForwarder internal forwarder;
    IdentityRegistry internal registry;
    VoucherAdmin internal adminModule;
    VoucherServices internal servicesModule;
    VoucherToken internal implementation;
    UpgradeableBeacon internal beacon;
    VoucherFactory internal factory;
    IVoucherToken internal token;

    uint256 private _nextKey = 0xA11CE;
    uint256 private _payments;

    function setUp() public virtual {
        vm.warp(T0);
        forwarder = new DongneForwarder();
        registry = new IdentityRegistry(operator, address(forwarder), 72 hours);
        servicesModule = new VoucherServices(address(forwarder), registry);
        adminModule = new VoucherAdmin(address(forwarder), registry, address(servicesModule));
        implementation = new VoucherToken(address(forwarder), registry, address(adminModule));
        beacon = new UpgradeableBeacon(address(implementation), operator);
        factory = new VoucherFactory(address(beacon), operator);
        vm.prank(operator);
        registry.setFactory(address(factory));
        vm.prank(operator);
        token = IVoucherToken(
            factory.deployMunicipality(SIHEUNG, "Siheung Voucher", "SHV", cityAdmin, defaultRules())
        );
        VoucherToken core = VoucherToken(address(token));
        vm.startPrank(cityAdmin);
        core.grantRole(core.ISSUER_ROLE(), issuer);
        core.grantRole(core.MERCHANT_REGISTRAR_ROLE(), registrar);
        core.grantRole(core.PROGRAM_MANAGER_ROLE(), manager);
        core.grantRole(core.PAUSER_ROLE(), pauser);
        vm.stopPrank();
    }

    /// @dev Today's figures: 10% discount allowed (5-10%), ₩700k/month purchase, ₩1.5M holding,
    /// gifts ₩500k sent / ₩1M received a month, cashback 10%/7%/5%/0% on a ₩300k monthly base,
    /// refund after 80% spent, merchants of tier 3 (over ₩3B revenue) barred for purchased money.
    function defaultRules() internal pure returns (IVoucherTypes.Rules memory r) {
        r.revenueCapTier = 3;
        r.cashbackBpsTier0 = 1000;
        r.cashbackBpsTier1 = 700;
        r.cashbackBpsTier2 = 500;
        r.cashbackBpsTier3 = 0;
        r.cashbackMonthlyBase = 300_000;
        r.holdingCap = 1_500_000;
        r.institutionPaymentCap = 500_000;
        r.minDiscountBps = 0;
        r.maxDiscountBps = 1000;
        r.refundThresholdBps = 8000;
        r.giftEnabled = true;
        r.changeDelay = 1 days;
        r.monthlyPurchaseCap = 700_000;
        r.giftSendCap = 500_000;
        r.giftReceiveCap = 1_000_000;
    }

    function newKey() internal returns (uint256 key, address account) {
        key = _nextKey++;
        account = vm.addr(key);
    }

    function newCitizen() internal returns (address citizen) {
        (, citizen) = newKey();
        vm.prank(operator);
        registry.register(citizen, IIdentityRegistry.Kind.Citizen);
    }

    function newInstitution() internal returns (address institution) {
        (, institution) = newKey();
        vm.prank(operator);
        registry.register(institution, IIdentityRegistry.Kind.Institution);
    }

    function newMerchant(uint24 category, uint8 tier) internal returns (address merchant) {
        (, merchant) = newKey();
        vm.prank(operator);
        registry.register(merchant, IIdentityRegistry.Kind.Merchant);
        vm.prank(registrar);
        token.registerMerchant(merchant, SIHEUNG, category, tier, false);
    }

    /// @dev A sale at the maximum 10% discount.
    function buy(address buyer, uint256 face) internal {
        vm.prank(issuer);
        token.issue(buyer, face, face * 9 / 10);
    }

    function noPrograms() internal pure returns (uint256[] memory) {
        return new uint256[](0);
    }

    function payGeneral(address payer, address merchant, uint256 amount)
        internal
        returns (uint256 seq)
    {
        // A fresh id each time: a non-zero payment id is a single-use invoice.
        bytes32 id = keccak256(abi.encode(payer, amount, ++_payments));
        vm.prank(payer);
        seq = token.pay(merchant, amount, id, noPrograms());
    }

    /// @dev Proposes `r` as the city admin and, unless the current change delay is zero (then
    /// the proposal applies at once), warps past the delay and activates it.
    function applyRules(IVoucherTypes.Rules memory r) internal {
        applyRulesTo(token, r);
    }

    function applyRulesTo(IVoucherToken city, IVoucherTypes.Rules memory r) internal {
        uint256 delay = city.rules().changeDelay;
        vm.prank(cityAdmin);
        city.proposeRules(r);
        if (delay > 0) {
            vm.warp(block.timestamp + delay);
            city.activateRules();
        }
    }

    /// @dev Deploys another municipality from the same factory with today's rules, run by the
    /// same city admin, issuer, registrar, program manager and pauser as Siheung.
    function deployCity(uint32 region_, string memory name_, string memory symbol_)
        internal
        returns (IVoucherToken city)
    {
        vm.prank(operator);
        city = IVoucherToken(
            factory.deployMunicipality(region_, name_, symbol_, cityAdmin, defaultRules())
        );
        VoucherToken core = VoucherToken(address(city));
        vm.startPrank(cityAdmin);
        core.grantRole(core.ISSUER_ROLE(), issuer);
        core.grantRole(core.MERCHANT_REGISTRAR_ROLE(), registrar);
        core.grantRole(core.PROGRAM_MANAGER_ROLE(), manager);
        core.grantRole(core.PAUSER_ROLE(), pauser);
        vm.stopPrank();
    }

    /// @dev A new merchant wallet registered in `city` with its shop in `shopRegion`.
    function newMerchantOf(
        IVoucherToken city,
        uint32 shopRegion,
        uint24 category,
        uint8 tier,
        bool market
    ) internal returns (address merchant) {
        (, merchant) = newKey();
        vm.prank(operator);
        registry.register(merchant, IIdentityRegistry.Kind.Merchant);
        vm.prank(registrar);
        city.registerMerchant(merchant, shopRegion, category, tier, market);
    }

    /// @dev `payGeneral`, returning the record the merchant needs to cancel the payment, read
    /// back from the `Paid` event.
    function payGeneralRecord(address payer, address merchant, uint256 amount)
        internal
        returns (IVoucherTypes.PaymentRecord memory rec)
    {
        vm.recordLogs();
        payGeneral(payer, merchant, amount);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(token) || !PaidLogs.isPaid(logs[i])) {
                continue;
            }
            PaidLogs.read(logs[i], rec);
            return rec;
        }
        revert AssertionFailed("no Paid event");
    }
}
