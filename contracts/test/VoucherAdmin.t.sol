// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {VoucherToken} from "../src/VoucherToken.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice The admin half of a voucher token: versioned rules with a change delay, the
/// merchant register (region, market flag, status and ban) and the views.
contract VoucherAdminTest is DongneFixture {
    uint32 internal constant NATIONAL = 0;
    uint32 internal constant BUSAN = 26_000;

    bytes32 internal adminRole;
    bytes32 internal registrarRole;

    function setUp() public override {
        super.setUp();
        VoucherToken core = VoucherToken(address(token));
        adminRole = core.DEFAULT_ADMIN_ROLE();
        registrarRole = core.MERCHANT_REGISTRAR_ROLE();
    }

    // ================================================================== rules: propose

    function test_proposeRules_storesPendingWithDelay() public {
        IVoucherTypes.Rules memory r = _changedRules();
        vm.prank(cityAdmin);
        uint256 version = token.proposeRules(r);
        assertEq(version, 2, "version");
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        _assertRulesEq(pending, r, "pending");
        assertEq(effectiveAt, T0 + 1 days, "effective after the change delay");
        _assertRulesEq(token.rules(), defaultRules(), "current rules unchanged");
        assertEq(token.rulesVersion(), 1, "version unchanged");
    }

    function test_proposeRules_emitsRulesProposed() public {
        IVoucherTypes.Rules memory r = _changedRules();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.RulesProposed(2, T0 + 1 days, r);
        vm.prank(cityAdmin);
        token.proposeRules(r);
    }

    function test_proposeRules_replacesPendingProposal() public {
        IVoucherTypes.Rules memory first = _changedRules();
        IVoucherTypes.Rules memory second = defaultRules();
        second.holdingCap = 2_000_000;
        vm.prank(cityAdmin);
        token.proposeRules(first);
        vm.warp(T0 + 1 hours);
        vm.prank(cityAdmin);
        uint256 version = token.proposeRules(second);
        assertEq(version, 2, "same version number");
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        _assertRulesEq(pending, second, "second proposal");
        assertEq(effectiveAt, T0 + 1 hours + 1 days, "delay restarts");
    }

    function test_proposeRules_delayIsTheCurrentRulesDelay() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.changeDelay = 7 days;
        vm.prank(cityAdmin);
        token.proposeRules(r);
        (, uint256 effectiveAt) = token.pendingRules();
        assertEq(effectiveAt, T0 + 1 days, "today's delay applies to its own change");
        vm.warp(effectiveAt);
        token.activateRules();
        vm.prank(cityAdmin);
        token.proposeRules(defaultRules());
        (, effectiveAt) = token.pendingRules();
        assertEq(effectiveAt, T0 + 1 days + 7 days, "the new delay applies next time");
    }

    function test_proposeRules_zeroDelayActivatesAtOnce() public {
        IVoucherTypes.Rules memory noDelay = defaultRules();
        noDelay.changeDelay = 0;
        applyRules(noDelay);
        IVoucherTypes.Rules memory r = _changedRules();
        r.changeDelay = 0;
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.RulesProposed(3, block.timestamp, r);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.RulesActivated(3, r);
        vm.prank(cityAdmin);
        uint256 version = token.proposeRules(r);
        assertEq(version, 3, "version");
        assertEq(token.rulesVersion(), 3, "active version");
        _assertRulesEq(token.rules(), r, "active");
        (, uint256 effectiveAt) = token.pendingRules();
        assertEq(effectiveAt, 0, "nothing pending");
    }

    function test_RevertWhen_proposeRulesByNonAdmin() public {
        IVoucherTypes.Rules memory r = _changedRules();
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, registrar, adminRole
            )
        );
        token.proposeRules(r);
    }

    function test_RevertWhen_proposeRulesByOperator() public {
        // The network operator runs the factory and the beacon, not a city's rules.
        IVoucherTypes.Rules memory r = _changedRules();
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, operator, adminRole
            )
        );
        token.proposeRules(r);
    }

    // ------------------------------------------------------------------ rules: validation

    function test_RevertWhen_proposeRulesMinDiscountAboveMax() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.minDiscountBps = 1001;
        _expectInvalidRule(r, "discountBounds");
    }

    function test_RevertWhen_proposeRulesMaxDiscountFullFace() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.maxDiscountBps = 10_000;
        _expectInvalidRule(r, "discountBounds");
    }

    function test_proposeRules_maxDiscountJustUnderFullFace() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.minDiscountBps = 9999;
        r.maxDiscountBps = 9999;
        vm.prank(cityAdmin);
        token.proposeRules(r);
    }

    function test_RevertWhen_proposeRulesRefundThresholdOver100Percent() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.refundThresholdBps = 10_001;
        _expectInvalidRule(r, "refundThresholdBps");
    }

    function test_proposeRules_refundThresholdAt100Percent() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.refundThresholdBps = 10_000;
        vm.prank(cityAdmin);
        token.proposeRules(r);
    }

    function test_RevertWhen_proposeRulesCashbackTier0Over100Percent() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.cashbackBpsTier0 = 10_001;
        _expectInvalidRule(r, "cashbackBps");
    }

    function test_RevertWhen_proposeRulesCashbackTier1Over100Percent() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.cashbackBpsTier1 = 10_001;
        _expectInvalidRule(r, "cashbackBps");
    }

    function test_RevertWhen_proposeRulesCashbackTier2Over100Percent() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.cashbackBpsTier2 = 10_001;
        _expectInvalidRule(r, "cashbackBps");
    }

    function test_RevertWhen_proposeRulesCashbackTier3Over100Percent() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.cashbackBpsTier3 = type(uint16).max;
        _expectInvalidRule(r, "cashbackBps");
    }

    function test_RevertWhen_proposeRulesZeroHoldingCap() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 0;
        _expectInvalidRule(r, "holdingCap");
    }

    function test_RevertWhen_proposeRulesChangeDelayOverAYear() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.changeDelay = 365 days + 1;
        _expectInvalidRule(r, "changeDelay");
    }

    function test_proposeRules_changeDelayOfAYear() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.changeDelay = 365 days;
        vm.prank(cityAdmin);
        token.proposeRules(r);
    }

    function test_RevertWhen_proposeRulesInvalid_reportsFirstFieldInOrder() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 0;
        r.refundThresholdBps = 20_000;
        _expectInvalidRule(r, "refundThresholdBps");
    }

    // ------------------------------------------------------------------ rules: activate, cancel

    function test_activateRules_byAnyoneAfterDelay() public {
        IVoucherTypes.Rules memory r = _changedRules();
        vm.prank(cityAdmin);
        token.proposeRules(r);
        vm.warp(T0 + 1 days);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.RulesActivated(2, r);
        vm.prank(address(0xBEEF));
        token.activateRules();
        _assertRulesEq(token.rules(), r, "active");
        assertEq(token.rulesVersion(), 2, "version");
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        assertEq(effectiveAt, 0, "nothing pending");
        assertEq(pending.holdingCap, 0, "pending cleared");
    }

    function test_activateRules_newRulesBindImmediately() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.monthlyPurchaseCap = 100_000;
        applyRules(r);
        address citizen = newCitizen();
        vm.prank(issuer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMonthlyPurchaseCapExceeded.selector, citizen, 200_000, 100_000
            )
        );
        token.issue(citizen, 200_000, 180_000);
    }

    function test_RevertWhen_activateRulesTooEarly() public {
        vm.prank(cityAdmin);
        token.proposeRules(_changedRules());
        vm.warp(T0 + 1 days - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherRulesNotYetEffective.selector, T0 + 1 days)
        );
        token.activateRules();
    }

    function test_RevertWhen_activateRulesNonePending() public {
        vm.expectRevert(IVoucherBase.VoucherNoPendingRules.selector);
        token.activateRules();
    }

    function test_RevertWhen_activateRulesTwice() public {
        applyRules(_changedRules());
        vm.expectRevert(IVoucherBase.VoucherNoPendingRules.selector);
        token.activateRules();
    }

    function test_cancelPendingRules_clearsAndEmits() public {
        vm.prank(cityAdmin);
        token.proposeRules(_changedRules());
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.RulesCancelled(2);
        vm.prank(cityAdmin);
        token.cancelPendingRules();
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        assertEq(effectiveAt, 0, "nothing pending");
        assertEq(pending.holdingCap, 0, "pending cleared");
        vm.warp(T0 + 1 days);
        vm.expectRevert(IVoucherBase.VoucherNoPendingRules.selector);
        token.activateRules();
        _assertRulesEq(token.rules(), defaultRules(), "unchanged");
        assertEq(token.rulesVersion(), 1, "version");
    }

    function test_RevertWhen_cancelPendingRulesNonePending() public {
        vm.prank(cityAdmin);
        vm.expectRevert(IVoucherBase.VoucherNoPendingRules.selector);
        token.cancelPendingRules();
    }

    function test_RevertWhen_cancelPendingRulesByNonAdmin() public {
        vm.prank(cityAdmin);
        token.proposeRules(_changedRules());
        vm.prank(pauser);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, pauser, adminRole
            )
        );
        token.cancelPendingRules();
    }

    // ================================================================== merchants

    function test_registerMerchant_recordsAndEmits() public {
        address shop = _merchantWallet();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantRegistered(shop, SIHEUNG, KSIC_GROCERY, 2, false);
        vm.prank(registrar);
        token.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 2, false);
        IVoucherTypes.Merchant memory m = token.merchantOf(shop);
        assertEq(m.region, SIHEUNG, "region");
        assertEq(m.category, KSIC_GROCERY, "category");
        assertEq(m.tier, 2, "tier");
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.Active), "status");
        assertFalse(m.market, "market");
        assertEq(m.bannedUntil, 0, "ban");
    }

    function test_registerMerchant_marketFlagKeptInCityToken() public {
        address shop = _merchantWallet();
        vm.prank(registrar);
        token.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 0, true);
        assertTrue(token.merchantOf(shop).market, "market");
    }

    function test_RevertWhen_registerMerchantRegionMismatch() public {
        address shop = _merchantWallet();
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherRegionMismatch.selector, SIHEUNG, SEONGNAM)
        );
        token.registerMerchant(shop, SEONGNAM, KSIC_GROCERY, 0, false);
    }

    function test_RevertWhen_registerMerchantRegionZeroInCityToken() public {
        address shop = _merchantWallet();
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherRegionMismatch.selector, SIHEUNG, 0)
        );
        token.registerMerchant(shop, 0, KSIC_GROCERY, 0, true);
    }

    function test_RevertWhen_registerMerchantIsCitizen() public {
        address citizen = newCitizen();
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, citizen));
        token.registerMerchant(citizen, SIHEUNG, KSIC_GROCERY, 0, false);
    }

    function test_RevertWhen_registerMerchantIsInstitution() public {
        address institution = newInstitution();
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, institution)
        );
        token.registerMerchant(institution, SIHEUNG, KSIC_GROCERY, 0, false);
    }

    function test_RevertWhen_registerMerchantUnregistered() public {
        address nobody = address(0xDEAD);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, nobody));
        token.registerMerchant(nobody, SIHEUNG, KSIC_GROCERY, 0, false);
    }

    function test_RevertWhen_registerMerchantFrozen() public {
        address shop = _merchantWallet();
        vm.prank(operator);
        registry.setFrozen(shop, true);
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, shop));
        token.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 0, false);
    }

    function test_RevertWhen_registerMerchantTwice() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantAlreadyRegistered.selector, shop)
        );
        token.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 1, false);
    }

    function test_RevertWhen_registerMerchantWhileSuspended() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Suspended, 0);
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantAlreadyRegistered.selector, shop)
        );
        token.registerMerchant(shop, SIHEUNG, KSIC_RESTAURANT, 0, false);
    }

    function test_registerMerchant_againAfterCancellationWithoutBan() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, 0);
        vm.prank(registrar);
        token.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 1, false);
        IVoucherTypes.Merchant memory m = token.merchantOf(shop);
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.Active), "status");
        assertEq(m.category, KSIC_GROCERY, "new category");
        assertEq(m.tier, 1, "new tier");
    }

    function test_RevertWhen_registerMerchantWhileBanned() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        uint40 until = uint40(T0 + 365 days);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until);
        vm.warp(uint256(until) - 1);
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantBanned.selector, shop, until)
        );
        token.registerMerchant(shop, SIHEUNG, KSIC_RESTAURANT, 0, false);
    }

    function test_registerMerchant_afterBanEnds() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        uint40 until = uint40(T0 + 365 days);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until);
        vm.warp(until);
        vm.prank(registrar);
        token.registerMerchant(shop, SIHEUNG, KSIC_RESTAURANT, 0, false);
        IVoucherTypes.Merchant memory m = token.merchantOf(shop);
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.Active), "status");
        assertEq(m.bannedUntil, 0, "ban cleared");
    }

    function test_RevertWhen_registerMerchantByNonRegistrar() public {
        address shop = _merchantWallet();
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, registrarRole
            )
        );
        token.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 0, false);
    }

    // ------------------------------------------------------------------ the national voucher

    function test_registerMerchant_nationalTokenTakesMarketStoresOfAnyRegion() public {
        IVoucherToken national = deployCity(NATIONAL, "Onnuri Voucher", "ONV");
        address siheungStall = _merchantWallet();
        address busanStall = _merchantWallet();
        vm.startPrank(registrar);
        national.registerMerchant(siheungStall, SIHEUNG, KSIC_GROCERY, 0, true);
        national.registerMerchant(busanStall, BUSAN, KSIC_RESTAURANT, 1, true);
        vm.stopPrank();
        assertEq(national.merchantOf(siheungStall).region, SIHEUNG, "Siheung stall");
        assertEq(national.merchantOf(busanStall).region, BUSAN, "Busan stall");
        assertTrue(national.merchantOf(busanStall).market, "market");
        assertEq(national.region(), NATIONAL, "national");
    }

    function test_RevertWhen_registerMerchantNationalTokenWithoutMarket() public {
        IVoucherToken national = deployCity(NATIONAL, "Onnuri Voucher", "ONV");
        address shop = _merchantWallet();
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherMarketRequired.selector, shop));
        national.registerMerchant(shop, SIHEUNG, KSIC_GROCERY, 0, false);
    }

    function test_pay_nationalTokenAtMarketStore() public {
        IVoucherToken national = deployCity(NATIONAL, "Onnuri Voucher", "ONV");
        address busanStall = newMerchantOf(national, BUSAN, KSIC_GROCERY, 0, true);
        address citizen = newCitizen();
        vm.prank(issuer);
        national.issue(citizen, 100_000, 90_000);
        vm.prank(citizen);
        national.pay(busanStall, 40_000, bytes32(0), noPrograms());
        assertEq(national.balanceOf(busanStall), 40_000, "stall");
    }

    // ------------------------------------------------------------------ update and status

    function test_updateMerchant_changesCategoryAndTier() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantUpdated(shop, KSIC_BAR, 2);
        vm.prank(registrar);
        token.updateMerchant(shop, KSIC_BAR, 2);
        IVoucherTypes.Merchant memory m = token.merchantOf(shop);
        assertEq(m.category, KSIC_BAR, "category");
        assertEq(m.tier, 2, "tier");
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.Active), "status kept");
        assertEq(m.region, SIHEUNG, "region kept");
    }

    function test_RevertWhen_updateMerchantUnknown() public {
        address shop = _merchantWallet();
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, shop));
        token.updateMerchant(shop, KSIC_BAR, 2);
    }

    function test_RevertWhen_updateMerchantByNonRegistrar() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        vm.prank(shop);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, shop, registrarRole
            )
        );
        token.updateMerchant(shop, KSIC_RESTAURANT, 0);
    }

    function test_setMerchantStatus_suspendsAndEmits() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantStatusSet(shop, IVoucherTypes.MerchantStatus.Suspended, 0);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Suspended, 0);
        assertEq(
            uint8(token.merchantOf(shop).status),
            uint8(IVoucherTypes.MerchantStatus.Suspended),
            "status"
        );
    }

    function test_setMerchantStatus_cancelsWithBan() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        uint40 until = uint40(T0 + 365 days);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantStatusSet(shop, IVoucherTypes.MerchantStatus.Cancelled, until);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until);
        IVoucherTypes.Merchant memory m = token.merchantOf(shop);
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.Cancelled), "status");
        assertEq(m.bannedUntil, until, "ban");
    }

    function test_RevertWhen_setMerchantStatusNone() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantInactive.selector,
                shop,
                IVoucherTypes.MerchantStatus.None
            )
        );
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.None, 0);
    }

    function test_RevertWhen_setMerchantStatusUnknown() public {
        address shop = _merchantWallet();
        vm.prank(registrar);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, shop));
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Suspended, 0);
    }

    function test_RevertWhen_setMerchantStatusByNonRegistrar() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        vm.prank(pauser);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, pauser, registrarRole
            )
        );
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Suspended, 0);
    }

    // ================================================================== views

    function test_views_municipality() public view {
        assertEq(token.region(), SIHEUNG, "region");
        assertEq(token.identityRegistry(), address(registry), "registry");
        assertEq(token.rulesVersion(), 1, "version");
        assertFalse(token.paused(), "paused");
        _assertRulesEq(token.rules(), defaultRules(), "rules");
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        assertEq(effectiveAt, 0, "nothing pending");
        assertEq(keccak256(abi.encode(pending)), keccak256(abi.encode(_zeroRules())), "pending");
    }

    function test_merchantOf_unknownIsEmpty() public view {
        IVoucherTypes.Merchant memory m = token.merchantOf(address(0xDEAD));
        assertEq(uint8(m.status), uint8(IVoucherTypes.MerchantStatus.None), "status");
        assertEq(m.region, 0, "region");
    }

    function test_accountOf_reportsCountersAndBasis() public {
        address citizen = newCitizen();
        address friend = newCitizen();
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        buy(citizen, 200_000);
        payGeneral(citizen, shop, 50_000);
        payGeneral(citizen, shop, 10_000);
        vm.prank(citizen);
        token.gift(friend, 20_000);
        (
            uint256 monthPurchased,
            uint256 monthCashbackBase,
            uint256 monthGiftSent,
            uint256 monthGiftReceived,
            uint256 boughtFace,
            uint256 boughtPaid,
            uint256 nextPaymentSeq
        ) = token.accountOf(citizen);
        assertEq(monthPurchased, 200_000, "purchased");
        assertEq(monthCashbackBase, 60_000, "cashback base");
        assertEq(monthGiftSent, 20_000, "gift sent");
        assertEq(monthGiftReceived, 0, "gift received");
        // The gift left the refund basis (bought money first, at its price): 200k - 20k.
        assertEq(boughtFace, 180_000, "bought face");
        assertEq(boughtPaid, 162_000, "bought paid");
        assertEq(nextPaymentSeq, 2, "next seq");
        (,,, monthGiftReceived,,,) = token.accountOf(friend);
        assertEq(monthGiftReceived, 20_000, "friend received");
    }

    function test_accountOf_monthlyCountersClearNextKstMonth() public {
        address citizen = newCitizen();
        address friend = newCitizen();
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        buy(citizen, 200_000);
        payGeneral(citizen, shop, 50_000);
        vm.prank(citizen);
        token.gift(friend, 20_000);
        vm.warp(1_796_050_800); // 2026-12-01 00:00 KST
        (
            uint256 monthPurchased,
            uint256 monthCashbackBase,
            uint256 monthGiftSent,,
            uint256 boughtFace,,
            uint256 nextPaymentSeq
        ) = token.accountOf(citizen);
        assertEq(monthPurchased, 0, "purchased");
        assertEq(monthCashbackBase, 0, "cashback base");
        assertEq(monthGiftSent, 0, "gift sent");
        assertEq(boughtFace, 180_000, "refund basis (less the gift) is not monthly");
        assertEq(nextPaymentSeq, 1, "seq is not monthly");
    }

    // ================================================================== fuzz

    function testFuzz_proposeRules_validation(IVoucherTypes.Rules memory r) public {
        bytes32 invalid = _firstInvalidField(r);
        if (invalid != bytes32(0)) {
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherBase.VoucherInvalidRule.selector, invalid)
            );
        }
        vm.prank(cityAdmin);
        token.proposeRules(r);
        if (invalid != bytes32(0)) return;
        (IVoucherTypes.Rules memory pending, uint256 effectiveAt) = token.pendingRules();
        _assertRulesEq(pending, r, "pending");
        assertEq(effectiveAt, T0 + 1 days, "effective at");
    }

    function testFuzz_proposeRules_validAppliesAfterDelay(
        IVoucherTypes.Rules memory r,
        uint256 wait
    ) public {
        r.minDiscountBps = uint16(bound(r.minDiscountBps, 0, 9999));
        r.maxDiscountBps = uint16(bound(r.maxDiscountBps, r.minDiscountBps, 9999));
        r.refundThresholdBps = uint16(bound(r.refundThresholdBps, 0, 10_000));
        r.cashbackBpsTier0 = uint16(bound(r.cashbackBpsTier0, 0, 10_000));
        r.cashbackBpsTier1 = uint16(bound(r.cashbackBpsTier1, 0, 10_000));
        r.cashbackBpsTier2 = uint16(bound(r.cashbackBpsTier2, 0, 10_000));
        r.cashbackBpsTier3 = uint16(bound(r.cashbackBpsTier3, 0, 10_000));
        r.holdingCap = uint64(bound(r.holdingCap, 1, type(uint64).max));
        r.changeDelay = uint32(bound(r.changeDelay, 0, 365 days));
        wait = bound(wait, 0, 2 days);
        vm.prank(cityAdmin);
        assertEq(token.proposeRules(r), 2, "version");
        vm.warp(T0 + wait);
        if (wait < 1 days) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherRulesNotYetEffective.selector, T0 + 1 days
                )
            );
        }
        token.activateRules();
        if (wait < 1 days) return;
        _assertRulesEq(token.rules(), r, "active");
        assertEq(token.rulesVersion(), 2, "version");
    }

    function testFuzz_RevertWhen_proposeRulesByNonAdmin(address caller) public {
        // The forwarder's calls carry their sender in the calldata (ERC-2771).
        vm.assume(caller != cityAdmin && caller != address(forwarder));
        IVoucherTypes.Rules memory r = _changedRules();
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole
            )
        );
        token.proposeRules(r);
    }

    function testFuzz_registerMerchant_regionLock(uint32 shopRegion, bool market) public {
        address shop = _merchantWallet();
        if (shopRegion != SIHEUNG) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherRegionMismatch.selector, SIHEUNG, shopRegion
                )
            );
        }
        vm.prank(registrar);
        token.registerMerchant(shop, shopRegion, KSIC_GROCERY, 0, market);
    }

    function testFuzz_registerMerchant_ban(uint40 until, uint256 when) public {
        until = uint40(bound(until, T0, T0 + 3 * 365 days));
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        _setStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until);
        when = bound(when, T0, T0 + 4 * 365 days);
        vm.warp(when);
        if (until > when) {
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherBase.VoucherMerchantBanned.selector, shop, until)
            );
        }
        vm.prank(registrar);
        token.registerMerchant(shop, SIHEUNG, KSIC_RESTAURANT, 0, false);
    }

    // ================================================================== helpers

    function _changedRules() private pure returns (IVoucherTypes.Rules memory r) {
        r = defaultRules();
        r.maxDiscountBps = 700;
        r.monthlyPurchaseCap = 500_000;
        r.cashbackBpsTier0 = 500;
        r.giftEnabled = false;
    }

    function _zeroRules() private pure returns (IVoucherTypes.Rules memory r) {}

    function _merchantWallet() private returns (address shop) {
        (, shop) = newKey();
        vm.prank(operator);
        registry.register(shop, IIdentityRegistry.Kind.Merchant);
    }

    function _setStatus(address shop, IVoucherTypes.MerchantStatus status, uint40 until) private {
        vm.prank(registrar);
        token.setMerchantStatus(shop, status, until);
    }

    function _expectInvalidRule(IVoucherTypes.Rules memory r, bytes32 field) private {
        vm.prank(cityAdmin);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherInvalidRule.selector, field));
        token.proposeRules(r);
    }

    /// @dev The first inconsistent field, in the order the token checks them, or zero.
    function _firstInvalidField(IVoucherTypes.Rules memory r) private pure returns (bytes32) {
        if (r.minDiscountBps > r.maxDiscountBps || r.maxDiscountBps >= 10_000) {
            return "discountBounds";
        }
        if (r.refundThresholdBps > 10_000) return "refundThresholdBps";
        if (
            r.cashbackBpsTier0 > 10_000 || r.cashbackBpsTier1 > 10_000
                || r.cashbackBpsTier2 > 10_000 || r.cashbackBpsTier3 > 10_000
        ) return "cashbackBps";
        if (r.holdingCap == 0) return "holdingCap";
        if (r.changeDelay > 365 days) return "changeDelay";
        return bytes32(0);
    }

    function _assertRulesEq(
        IVoucherTypes.Rules memory left,
        IVoucherTypes.Rules memory right,
        string memory what
    ) private pure {
        assertEq(keccak256(abi.encode(left)), keccak256(abi.encode(right)), what);
    }
}
