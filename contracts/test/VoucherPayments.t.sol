// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {VoucherToken} from "../src/VoucherToken.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice Money moving from the general pocket: payments (region lock, merchant standing,
/// revenue cap, cashback, institution limits), ERC-20 routing, cancellations, gifts,
/// redemptions and the pause.
contract VoucherPaymentsTest is DongneFixture {
    uint256 internal constant NOV30_2359_KST = 1_796_050_740;
    uint256 internal constant DEC01_0000_KST = 1_796_050_800;

    address internal citizen;
    address internal friend;
    address internal institution;
    address internal shop0; // tier 0: 10% cashback
    address internal shop1; // tier 1: 7%
    address internal shop2; // tier 2: 5%
    address internal shop3; // tier 3: over the revenue cap
    address internal bar;

    function setUp() public override {
        super.setUp();
        citizen = newCitizen();
        friend = newCitizen();
        institution = newInstitution();
        shop0 = newMerchant(KSIC_RESTAURANT, 0);
        shop1 = newMerchant(KSIC_RESTAURANT, 1);
        shop2 = newMerchant(KSIC_GROCERY, 2);
        shop3 = newMerchant(KSIC_GROCERY, 3);
        bar = newMerchant(KSIC_BAR, 0);
    }

    // ================================================================== pay: money and cashback

    function test_pay_movesGeneralToMerchantWithCashback() public {
        buy(citizen, 100_000);
        uint256 seq = payGeneral(citizen, shop0, 30_000);
        assertEq(seq, 0, "first seq");
        assertEq(token.balanceOf(shop0), 30_000, "merchant");
        assertEq(token.balanceOf(citizen), 73_000, "payer after 10% cashback");
        assertEq(token.totalSupply(), 103_000, "supply grows by the cashback");
        (, uint256 cashbackBase,,,,, uint256 nextSeq) = token.accountOf(citizen);
        assertEq(cashbackBase, 30_000, "cashback base used");
        assertEq(nextSeq, 1, "next seq");
    }

    function test_pay_emitsTransfersAndPaid() public {
        buy(citizen, 100_000);
        bytes32 paymentId = keccak256("order-1");
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(citizen, shop1, 20_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(address(0), citizen, 1400);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Paid(citizen, shop1, paymentId, 0, 20_000, 20_000, 1400);
        vm.prank(citizen);
        token.pay(shop1, 20_000, paymentId, noPrograms());
    }

    function test_pay_seqIncrementsPerPayer() public {
        buy(citizen, 100_000);
        buy(friend, 100_000);
        assertEq(payGeneral(citizen, shop0, 1000), 0, "citizen 0");
        assertEq(payGeneral(citizen, shop1, 1000), 1, "citizen 1");
        assertEq(payGeneral(friend, shop0, 1000), 0, "friend 0");
        assertEq(payGeneral(citizen, shop0, 2000), 2, "citizen 2");
    }

    function test_pay_cashbackByTier() public {
        buy(citizen, 300_000);
        payGeneral(citizen, shop0, 30_000);
        assertEq(token.balanceOf(citizen), 273_000, "tier 0: 10%");
        payGeneral(citizen, shop1, 30_000);
        assertEq(token.balanceOf(citizen), 245_100, "tier 1: 7%");
        payGeneral(citizen, shop2, 30_000);
        assertEq(token.balanceOf(citizen), 216_600, "tier 2: 5%");
    }

    function test_pay_noCashbackAtTierWithZeroRate() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.revenueCapTier = 4;
        applyRules(r);
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop3, 30_000);
        assertEq(rec.cashback, 0, "tier 3 rate is 0");
        assertEq(token.balanceOf(citizen), 70_000, "payer");
        (, uint256 cashbackBase,,,,,) = token.accountOf(citizen);
        assertEq(cashbackBase, 0, "a zero rate does not use the base");
    }

    function test_pay_cashbackStopsAtMonthlyBase() public {
        buy(citizen, 700_000);
        IVoucherTypes.PaymentRecord memory a = payGeneralRecord(citizen, shop0, 250_000);
        IVoucherTypes.PaymentRecord memory b = payGeneralRecord(citizen, shop0, 100_000);
        IVoucherTypes.PaymentRecord memory c = payGeneralRecord(citizen, shop0, 10_000);
        assertEq(a.cashback, 25_000, "within base");
        assertEq(b.cashback, 5000, "only the 50k left of the base");
        assertEq(c.cashback, 0, "base used up");
        (, uint256 cashbackBase,,,,,) = token.accountOf(citizen);
        assertEq(cashbackBase, 300_000, "base");
    }

    function test_pay_cashbackBaseSharedAcrossTiers() public {
        buy(citizen, 700_000);
        payGeneralRecord(citizen, shop2, 280_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 100_000);
        assertEq(rec.cashback, 2000, "10% of the 20k left");
    }

    function test_pay_cashbackBaseResetsAtKstMonth() public {
        vm.warp(NOV30_2359_KST);
        buy(citizen, 700_000);
        payGeneral(citizen, shop0, 300_000);
        vm.warp(DEC01_0000_KST - 1);
        assertEq(payGeneralRecord(citizen, shop0, 10_000).cashback, 0, "still November");
        vm.warp(DEC01_0000_KST);
        (, uint256 cashbackBase,,,,,) = token.accountOf(citizen);
        assertEq(cashbackBase, 0, "view shows the new month");
        assertEq(payGeneralRecord(citizen, shop0, 10_000).cashback, 1000, "December base");
    }

    function test_pay_cashbackClippedToHoldingCap() public {
        _holdGeneral(citizen, 1_400_000);
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 1_352_000;
        applyRules(r);
        // 1.4M - 50k = 1.35M; 10% cashback would be 5k but only 2k fits under the cap.
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 50_000);
        assertEq(rec.cashback, 2000, "clipped");
        assertEq(token.balanceOf(citizen), 1_352_000, "at the cap");
        assertEq(token.totalSupply(), 1_400_000 + 2000, "only the clipped cashback is minted");
    }

    function test_pay_noCashbackWhenStillOverHoldingCap() public {
        _holdGeneral(citizen, 1_400_000);
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 1_000_000;
        applyRules(r);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 100_000);
        assertEq(rec.cashback, 0, "no room");
        assertEq(token.balanceOf(citizen), 1_300_000, "payer");
    }

    function test_pay_revenueCapTierFollowsRules() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.revenueCapTier = 2;
        applyRules(r);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantOverRevenueCap.selector, shop2, 2, 2)
        );
        token.pay(shop2, 10_000, bytes32(0), noPrograms());
        payGeneral(citizen, shop1, 10_000);
    }

    // ================================================================== pay: region lock and standing

    function test_RevertWhen_payReceiverUnregistered() public {
        buy(citizen, 100_000);
        address nobody = address(0xDEAD);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, nobody));
        token.pay(nobody, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payReceiverIsCitizen() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, friend));
        token.pay(friend, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payReceiverIsInstitution() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, institution)
        );
        token.pay(institution, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payMerchantOfAnotherMunicipality() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, KSIC_RESTAURANT, 0, false);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, seongnamShop)
        );
        token.pay(seongnamShop, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payMerchantRegisteredOnlyInRegistry() public {
        (, address shop) = newKey();
        vm.prank(operator);
        registry.register(shop, IIdentityRegistry.Kind.Merchant);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, shop));
        token.pay(shop, 10_000, bytes32(0), noPrograms());
    }

    function test_pay_sameWalletIsMerchantInBothCities() public {
        // Siheung money stays in Siheung even when a shop is in both municipalities' lists.
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, KSIC_RESTAURANT, 0, false);
        vm.prank(issuer);
        seongnam.issue(citizen, 50_000, 45_000);
        vm.prank(citizen);
        seongnam.pay(seongnamShop, 20_000, bytes32(0), noPrograms());
        assertEq(seongnam.balanceOf(seongnamShop), 20_000, "paid in Seongnam");
        assertEq(token.balanceOf(seongnamShop), 0, "nothing in Siheung");
        assertEq(token.balanceOf(citizen), 0, "no Siheung money");
    }

    function test_RevertWhen_payMerchantSuspended() public {
        buy(citizen, 100_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Suspended, 0);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantInactive.selector,
                shop0,
                IVoucherTypes.MerchantStatus.Suspended
            )
        );
        token.pay(shop0, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payMerchantCancelled() public {
        buy(citizen, 100_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Cancelled, uint40(T0 + 365 days));
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantInactive.selector,
                shop0,
                IVoucherTypes.MerchantStatus.Cancelled
            )
        );
        token.pay(shop0, 10_000, bytes32(0), noPrograms());
    }

    function test_pay_merchantReactivated() public {
        buy(citizen, 100_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Suspended, 0);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Active, 0);
        payGeneral(citizen, shop0, 10_000);
        assertEq(token.balanceOf(shop0), 10_000, "merchant");
    }

    function test_RevertWhen_payMerchantOverRevenueCap() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantOverRevenueCap.selector, shop3, 3, 3)
        );
        token.pay(shop3, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payMerchantUpdatedOverRevenueCap() public {
        buy(citizen, 100_000);
        vm.prank(registrar);
        token.updateMerchant(shop0, KSIC_RESTAURANT, 5);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantOverRevenueCap.selector, shop0, 5, 3)
        );
        token.pay(shop0, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payInsufficientBalance() public {
        buy(citizen, 10_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, citizen, 10_000, 20_000
            )
        );
        token.pay(shop0, 20_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payZeroAmount() public {
        buy(citizen, 10_000);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherInvalidAmount.selector, 0));
        token.pay(shop0, 0, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payerFrozen() public {
        buy(citizen, 100_000);
        vm.prank(operator);
        registry.setFrozen(citizen, true);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, citizen));
        token.pay(shop0, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_merchantFrozen() public {
        buy(citizen, 100_000);
        vm.prank(operator);
        registry.setFrozen(shop0, true);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, shop0));
        token.pay(shop0, 10_000, bytes32(0), noPrograms());
    }

    function test_pay_afterUnfreeze() public {
        buy(citizen, 100_000);
        vm.startPrank(operator);
        registry.setFrozen(citizen, true);
        registry.setFrozen(citizen, false);
        vm.stopPrank();
        payGeneral(citizen, shop0, 10_000);
        assertEq(token.balanceOf(shop0), 10_000, "merchant");
    }

    function test_RevertWhen_payerUnregistered() public {
        address nobody = address(0xDEAD);
        vm.prank(nobody);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, nobody));
        token.pay(shop0, 10_000, bytes32(0), noPrograms());
    }

    function test_RevertWhen_payerIsMerchant() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherEdgeNotAllowed.selector, shop0, shop1)
        );
        token.pay(shop1, 10_000, bytes32(0), noPrograms());
    }

    // ================================================================== pay: institutions

    function test_pay_institutionGetsNoCashback() public {
        buy(institution, 1_000_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(institution, shop0, 300_000);
        assertEq(rec.cashback, 0, "cashback");
        assertEq(token.balanceOf(institution), 700_000, "payer");
        assertEq(token.totalSupply(), 1_000_000, "supply");
        (, uint256 cashbackBase,,,,,) = token.accountOf(institution);
        assertEq(cashbackBase, 0, "base");
    }

    function test_setInstitutionCategory_emitsAndBlocks() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.InstitutionCategorySet(KSIC_BAR, true);
        vm.prank(cityAdmin);
        token.setInstitutionCategory(KSIC_BAR, true);
        assertTrue(token.isInstitutionCategoryBlocked(KSIC_BAR), "blocked");
        assertFalse(token.isInstitutionCategoryBlocked(KSIC_RESTAURANT), "others open");
    }

    function test_RevertWhen_institutionPaysBlockedCategory() public {
        buy(institution, 1_000_000);
        vm.prank(cityAdmin);
        token.setInstitutionCategory(KSIC_BAR, true);
        vm.prank(institution);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryBlocked.selector, bar, KSIC_BAR)
        );
        token.pay(bar, 10_000, bytes32(0), noPrograms());
    }

    function test_pay_citizenUnaffectedByInstitutionBlock() public {
        buy(citizen, 100_000);
        vm.prank(cityAdmin);
        token.setInstitutionCategory(KSIC_BAR, true);
        payGeneral(citizen, bar, 10_000);
        assertEq(token.balanceOf(bar), 10_000, "bar");
    }

    function test_pay_institutionAfterCategoryUnblocked() public {
        buy(institution, 1_000_000);
        vm.startPrank(cityAdmin);
        token.setInstitutionCategory(KSIC_BAR, true);
        token.setInstitutionCategory(KSIC_BAR, false);
        vm.stopPrank();
        payGeneral(institution, bar, 10_000);
        assertEq(token.balanceOf(bar), 10_000, "bar");
    }

    function test_RevertWhen_setInstitutionCategoryByNonAdmin() public {
        vm.prank(registrar);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, registrar, bytes32(0)
            )
        );
        token.setInstitutionCategory(KSIC_BAR, true);
    }

    function test_pay_institutionUpToPaymentCap() public {
        buy(institution, 1_000_000);
        payGeneral(institution, shop0, 500_000);
        assertEq(token.balanceOf(shop0), 500_000, "merchant");
    }

    function test_RevertWhen_institutionPaymentOverCap() public {
        buy(institution, 1_000_000);
        vm.prank(institution);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionPaymentCapExceeded.selector, 500_001, 500_000
            )
        );
        token.pay(shop0, 500_001, bytes32(0), noPrograms());
    }

    function test_pay_institutionUnlimitedWhenCapZero() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.institutionPaymentCap = 0;
        applyRules(r);
        buy(institution, 3_000_000);
        payGeneral(institution, shop0, 2_000_000);
        assertEq(token.balanceOf(shop0), 2_000_000, "merchant");
    }

    function test_pay_institutionCapDoesNotBindCitizens() public {
        buy(citizen, 700_000);
        payGeneral(citizen, shop0, 600_000);
        assertEq(token.balanceOf(shop0), 600_000, "merchant");
    }

    function test_RevertWhen_institutionPaysOverRevenueCap() public {
        buy(institution, 1_000_000);
        vm.prank(institution);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantOverRevenueCap.selector, shop3, 3, 3)
        );
        token.pay(shop3, 10_000, bytes32(0), noPrograms());
    }

    // ================================================================== ERC-20 surface

    function test_transfer_toMerchantIsPayment() public {
        buy(citizen, 100_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Paid(citizen, shop0, bytes32(0), 0, 30_000, 30_000, 3000);
        vm.prank(citizen);
        assertTrue(IERC20(address(token)).transfer(shop0, 30_000), "returns true");
        assertEq(token.balanceOf(shop0), 30_000, "merchant");
        assertEq(token.balanceOf(citizen), 73_000, "payer with cashback");
    }

    function test_transfer_toCitizenIsGift() public {
        buy(citizen, 100_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(citizen, friend, 40_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Gifted(citizen, friend, 40_000);
        vm.prank(citizen);
        assertTrue(IERC20(address(token)).transfer(friend, 40_000), "returns true");
        (,, uint256 sent,,,,) = token.accountOf(citizen);
        assertEq(sent, 40_000, "gift counter");
    }

    function test_RevertWhen_transferToMerchantOverRevenueCap() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantOverRevenueCap.selector, shop3, 3, 3)
        );
        IERC20(address(token)).transfer(shop3, 10_000);
    }

    function test_RevertWhen_transferToSuspendedMerchant() public {
        buy(citizen, 100_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Suspended, 0);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantInactive.selector,
                shop0,
                IVoucherTypes.MerchantStatus.Suspended
            )
        );
        IERC20(address(token)).transfer(shop0, 10_000);
    }

    function test_RevertWhen_transferToInstitution() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, citizen, institution
            )
        );
        IERC20(address(token)).transfer(institution, 10_000);
    }

    function test_RevertWhen_transferFromMerchantToCitizen() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherEdgeNotAllowed.selector, shop0, citizen)
        );
        IERC20(address(token)).transfer(citizen, 10_000);
    }

    function test_RevertWhen_transferFromInstitutionToCitizen() public {
        buy(institution, 100_000);
        vm.prank(institution);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, institution, citizen
            )
        );
        IERC20(address(token)).transfer(citizen, 10_000);
    }

    function test_RevertWhen_transferToMerchantOfAnotherMunicipality() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, KSIC_RESTAURANT, 0, false);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, citizen, seongnamShop
            )
        );
        IERC20(address(token)).transfer(seongnamShop, 10_000);
    }

    function test_RevertWhen_transferToUnregistered() public {
        buy(citizen, 100_000);
        address nobody = address(0xDEAD);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, nobody));
        IERC20(address(token)).transfer(nobody, 10_000);
    }

    function test_RevertWhen_transferToZeroAddress() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, address(0))
        );
        IERC20(address(token)).transfer(address(0), 10_000);
    }

    function test_RevertWhen_approve() public {
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherUnsupported.selector, IERC20.approve.selector
            )
        );
        IERC20(address(token)).approve(friend, 1);
    }

    function test_RevertWhen_transferFrom() public {
        buy(citizen, 100_000);
        vm.prank(friend);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherUnsupported.selector, IERC20.transferFrom.selector
            )
        );
        IERC20(address(token)).transferFrom(citizen, friend, 1);
    }

    function test_allowance_alwaysZero() public view {
        assertEq(IERC20(address(token)).allowance(citizen, friend), 0, "allowance");
    }

    // ================================================================== cancelPayment

    function test_cancelPayment_restoresPayerAndBurnsCashback() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        assertEq(rec.cashback, 3000, "cashback paid");
        assertTrue(token.isPaymentOnRecord(shop0, rec), "on record");

        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);

        assertEq(token.balanceOf(citizen), 100_000, "payer: 73k + 30k - 3k cashback");
        assertEq(token.balanceOf(shop0), 0, "merchant");
        assertEq(token.totalSupply(), 100_000, "cashback burned");
        assertFalse(token.isPaymentOnRecord(shop0, rec), "off record");
    }

    function test_cancelPayment_emitsTransfersAndPaymentCancelled() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(shop0, citizen, 27_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(shop0, address(0), 3000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            citizen, shop0, rec.paymentId, 0, 30_000, 30_000, 30_000, 3000, 0, new uint256[](0)
        );
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
    }

    function test_cancelPayment_afterPayerSpentTheCashback() public {
        buy(citizen, 33_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        payGeneral(citizen, shop1, 6000); // spends all 3k left + the 3k cashback
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(citizen), 27_000 + 420, "back: 30k less the 3k cashback");
    }

    function test_cancelPayment_institutionGetsFullAmount() public {
        buy(institution, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(institution, shop0, 30_000);
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(institution), 100_000, "payer");
        assertEq(token.totalSupply(), 100_000, "supply");
    }

    function test_cancelPayment_oneOfSeveral() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 10_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop1, 20_000);
        payGeneral(citizen, shop0, 5000);
        vm.prank(shop1);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(shop1), 0, "cancelled merchant");
        assertEq(token.balanceOf(shop0), 15_000, "other merchant untouched");
    }

    function test_cancelPayment_bySuspendedMerchant() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Suspended, 0);
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(citizen), 100_000, "payer");
    }

    function test_RevertWhen_cancelPaymentByOtherMerchant() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.prank(shop1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentByPayer() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentWithInflatedAmount() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        rec.fromGeneral = 40_000;
        rec.amount = 40_000;
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentWithoutCashback() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        rec.cashback = 0;
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentWrongPaymentId() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        rec.paymentId = keccak256("another order");
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentUnknownSeq() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        rec.seq = 5;
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 5)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentTwice() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        payGeneral(citizen, shop0, 30_000); // the merchant could pay a second cancellation
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_cancelPayment_afterSixtyThreeNewerPayments() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 1000);
        for (uint256 i = 0; i < 63; ++i) {
            payGeneral(citizen, shop1, 1000);
        }
        assertTrue(token.isPaymentOnRecord(shop0, rec), "64th newest still on record");
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(shop0), 0, "cancelled");
    }

    function test_RevertWhen_cancelPaymentAfterSixtyFourNewerPayments() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 1000);
        IVoucherTypes.PaymentRecord memory newest;
        for (uint256 i = 0; i < 64; ++i) {
            newest = payGeneralRecord(citizen, shop1, 1000);
        }
        assertEq(newest.seq, 64, "newest seq");
        assertFalse(token.isPaymentOnRecord(shop0, rec), "overwritten");
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
        // The payment that took its slot is the one on record.
        vm.prank(shop1);
        token.cancelPayment(newest, newest.amount);
    }

    function test_RevertWhen_cancelPaymentMerchantShort() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.prank(shop0);
        token.redeem(25_000, bytes32("batch-1"));
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, shop0, 5000, 30_000
            )
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentPayerFrozen() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.prank(operator);
        registry.setFrozen(citizen, true);
        vm.prank(shop0);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, citizen));
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentMerchantFrozen() public {
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.prank(operator);
        registry.setFrozen(shop0, true);
        vm.prank(shop0);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, shop0));
        token.cancelPayment(rec, rec.amount);
    }

    // ================================================================== gift

    function test_gift_movesAndCounts() public {
        buy(citizen, 100_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(citizen, friend, 30_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Gifted(citizen, friend, 30_000);
        _gift(citizen, friend, 30_000);
        assertEq(token.balanceOf(citizen), 70_000, "sender");
        assertEq(token.balanceOf(friend), 30_000, "receiver");
        assertEq(token.totalSupply(), 100_000, "supply unchanged");
        (,, uint256 sent, uint256 received,,,) = token.accountOf(citizen);
        assertEq(sent, 30_000, "sent");
        assertEq(received, 0, "sender received");
        (,, sent, received,,,) = token.accountOf(friend);
        assertEq(sent, 0, "receiver sent");
        assertEq(received, 30_000, "received");
    }

    function test_gift_upToSendCap() public {
        buy(citizen, 700_000);
        _gift(citizen, friend, 300_000);
        _gift(citizen, friend, 200_000);
        assertEq(token.balanceOf(friend), 500_000, "receiver");
    }

    function test_RevertWhen_giftOverSendCap() public {
        buy(citizen, 700_000);
        _gift(citizen, friend, 500_000);
        address other = newCitizen();
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherGiftSendCapExceeded.selector, citizen, 500_001, 500_000
            )
        );
        token.gift(other, 1);
    }

    function test_RevertWhen_giftOverReceiveCap() public {
        address a = _richCitizen(500_000);
        address b = _richCitizen(500_000);
        address c = _richCitizen(500_000);
        _gift(a, friend, 500_000);
        _gift(b, friend, 500_000);
        vm.prank(c);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherGiftReceiveCapExceeded.selector, friend, 1_000_001, 1_000_000
            )
        );
        token.gift(friend, 1);
    }

    function test_gift_capsResetAtKstMonth() public {
        vm.warp(NOV30_2359_KST);
        buy(citizen, 700_000);
        _gift(citizen, friend, 500_000);
        vm.warp(DEC01_0000_KST - 1);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherGiftSendCapExceeded.selector, citizen, 500_001, 500_000
            )
        );
        token.gift(friend, 1);
        vm.warp(DEC01_0000_KST);
        (,, uint256 sent,,,,) = token.accountOf(citizen);
        assertEq(sent, 0, "view shows the new month");
        _gift(citizen, friend, 200_000);
        (,, sent,,,,) = token.accountOf(citizen);
        assertEq(sent, 200_000, "December counter");
        (,,, uint256 received,,,) = token.accountOf(friend);
        assertEq(received, 200_000, "receiver's December counter");
    }

    function test_gift_capsFollowRules() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.giftSendCap = 50_000;
        applyRules(r);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherGiftSendCapExceeded.selector, citizen, 60_000, 50_000
            )
        );
        token.gift(friend, 60_000);
    }

    function test_RevertWhen_giftDisabled() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.giftEnabled = false;
        applyRules(r);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherGiftDisabled.selector);
        token.gift(friend, 10_000);
    }

    function test_RevertWhen_transferToCitizenWithGiftsDisabled() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.giftEnabled = false;
        applyRules(r);
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherGiftDisabled.selector);
        IERC20(address(token)).transfer(friend, 10_000);
    }

    function test_RevertWhen_giftToMerchant() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherEdgeNotAllowed.selector, citizen, shop0)
        );
        token.gift(shop0, 10_000);
    }

    function test_RevertWhen_giftToInstitution() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, citizen, institution
            )
        );
        token.gift(institution, 10_000);
    }

    function test_RevertWhen_giftFromInstitution() public {
        buy(institution, 100_000);
        vm.prank(institution);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, institution, citizen
            )
        );
        token.gift(citizen, 10_000);
    }

    function test_RevertWhen_giftFromMerchant() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherEdgeNotAllowed.selector, shop0, citizen)
        );
        token.gift(citizen, 10_000);
    }

    function test_RevertWhen_giftOverReceiverHoldingCap() public {
        buy(friend, 700_000);
        _gift(_richCitizen(500_000), friend, 500_000);
        buy(citizen, 400_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherHoldingCapExceeded.selector, friend, 1_600_000, 1_500_000
            )
        );
        token.gift(friend, 400_000);
    }

    function test_RevertWhen_giftInsufficientBalance() public {
        buy(citizen, 10_000);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, citizen, 10_000, 20_000
            )
        );
        token.gift(friend, 20_000);
    }

    function test_RevertWhen_giftZero() public {
        buy(citizen, 10_000);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherInvalidAmount.selector, 0));
        token.gift(friend, 0);
    }

    function test_RevertWhen_giftSenderFrozen() public {
        buy(citizen, 10_000);
        vm.prank(operator);
        registry.setFrozen(citizen, true);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, citizen));
        token.gift(friend, 1000);
    }

    function test_RevertWhen_giftReceiverFrozen() public {
        buy(citizen, 10_000);
        vm.prank(operator);
        registry.setFrozen(friend, true);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, friend));
        token.gift(friend, 1000);
    }

    function test_RevertWhen_giftToUnregistered() public {
        buy(citizen, 10_000);
        address nobody = address(0xDEAD);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, nobody));
        token.gift(nobody, 1000);
    }

    // ================================================================== redeem

    function test_redeem_burnsAndEmitsRedeemedWithRef() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        bytes32 ref = bytes32("settle-2026-11-02");
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(shop0, address(0), 20_000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Redeemed(shop0, 20_000, ref);
        vm.prank(shop0);
        token.redeem(20_000, ref);
        assertEq(token.balanceOf(shop0), 10_000, "merchant");
        assertEq(token.totalSupply(), 103_000 - 20_000, "supply");
    }

    function test_redeem_wholeBalance() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        vm.prank(shop0);
        token.redeem(30_000, bytes32(0));
        assertEq(token.balanceOf(shop0), 0, "merchant");
    }

    function test_redeem_bySuspendedMerchant() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Suspended, 0);
        vm.prank(shop0);
        token.redeem(30_000, bytes32("batch"));
        assertEq(token.balanceOf(shop0), 0, "merchant");
    }

    function test_RevertWhen_redeemByCancelledMerchant() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        _setStatus(shop0, IVoucherTypes.MerchantStatus.Cancelled, 0);
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantInactive.selector,
                shop0,
                IVoucherTypes.MerchantStatus.Cancelled
            )
        );
        token.redeem(30_000, bytes32("batch"));
    }

    function test_RevertWhen_redeemByCitizen() public {
        buy(citizen, 100_000);
        vm.prank(citizen);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, citizen));
        token.redeem(10_000, bytes32(0));
    }

    function test_RevertWhen_redeemByMerchantOfAnotherMunicipality() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, KSIC_RESTAURANT, 0, false);
        vm.prank(seongnamShop);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, seongnamShop)
        );
        token.redeem(1, bytes32(0));
    }

    function test_RevertWhen_redeemMoreThanBalance() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        vm.prank(shop0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, shop0, 30_000, 30_001
            )
        );
        token.redeem(30_001, bytes32(0));
    }

    function test_RevertWhen_redeemZero() public {
        vm.prank(shop0);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherInvalidAmount.selector, 0));
        token.redeem(0, bytes32(0));
    }

    function test_RevertWhen_redeemByFrozenMerchant() public {
        buy(citizen, 100_000);
        payGeneral(citizen, shop0, 30_000);
        vm.prank(operator);
        registry.setFrozen(shop0, true);
        vm.prank(shop0);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, shop0));
        token.redeem(30_000, bytes32(0));
    }

    // ================================================================== pause

    function test_setPaused_emitsAndReports() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PausedSet(true, pauser);
        vm.prank(pauser);
        token.setPaused(true);
        assertTrue(token.paused(), "paused");
    }

    function test_RevertWhen_setPausedByNonPauser() public {
        bytes32 pauserRole = VoucherToken(address(token)).PAUSER_ROLE();
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, pauserRole
            )
        );
        token.setPaused(true);
    }

    function test_RevertWhen_paused_everyMovement() public {
        buy(citizen, 100_000);
        buy(friend, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        _gift(friend, citizen, 80_000); // friend can refund
        vm.prank(pauser);
        token.setPaused(true);

        vm.prank(issuer);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.issue(citizen, 10_000, 9000);

        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.pay(shop0, 1000, bytes32(0), noPrograms());

        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        IERC20(address(token)).transfer(shop0, 1000);

        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        IERC20(address(token)).transfer(friend, 1000);

        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.gift(friend, 1000);

        vm.prank(shop0);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.cancelPayment(rec, rec.amount);

        vm.prank(shop0);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.redeem(1000, bytes32(0));

        vm.prank(friend);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.refund();
    }

    function test_setPaused_unpauseRestoresMovement() public {
        buy(citizen, 100_000);
        vm.prank(pauser);
        token.setPaused(true);
        vm.prank(pauser);
        token.setPaused(false);
        assertFalse(token.paused(), "unpaused");
        payGeneral(citizen, shop0, 10_000);
        assertEq(token.balanceOf(shop0), 10_000, "merchant");
    }

    function test_pause_isPerMunicipality() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, KSIC_RESTAURANT, 0, false);
        vm.prank(pauser);
        token.setPaused(true);
        vm.prank(issuer);
        seongnam.issue(citizen, 50_000, 45_000);
        vm.prank(citizen);
        seongnam.pay(seongnamShop, 10_000, bytes32(0), noPrograms());
        assertEq(seongnam.balanceOf(seongnamShop), 10_000, "Seongnam keeps running");
    }

    // ================================================================== fuzz

    function testFuzz_pay_citizenCashbackByTier(uint256 amount, uint8 rawTier) public {
        amount = bound(amount, 1, 700_000);
        uint256 tier = bound(rawTier, 0, 2);
        address shop = tier == 0 ? shop0 : tier == 1 ? shop1 : shop2;
        uint256 bps = tier == 0 ? 1000 : tier == 1 ? 700 : 500;
        buy(citizen, 700_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, amount);
        uint256 base = amount < 300_000 ? amount : 300_000;
        uint256 cashback = base * bps / 10_000;
        assertEq(rec.amount, amount, "amount");
        assertEq(rec.fromGeneral, amount, "from general");
        assertEq(rec.cashback, cashback, "cashback");
        assertEq(token.balanceOf(shop), amount, "merchant");
        assertEq(token.balanceOf(citizen), 700_000 - amount + cashback, "payer");
        assertEq(token.totalSupply(), 700_000 + cashback, "supply");
        (, uint256 cashbackBase,,,,,) = token.accountOf(citizen);
        assertEq(cashbackBase, base, "base used");
    }

    function testFuzz_pay_cashbackNeverOverHoldingCap(uint256 cap, uint256 amount) public {
        _holdGeneral(citizen, 1_400_000);
        cap = bound(cap, 1, 1_500_000);
        amount = bound(amount, 1, 300_000);
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = uint64(cap);
        applyRules(r);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, amount);
        uint256 afterPay = 1_400_000 - amount;
        uint256 balance = token.balanceOf(citizen);
        assertEq(balance, afterPay + rec.cashback, "balance");
        assertLe(rec.cashback, amount / 10, "at most the tier rate");
        if (afterPay >= cap) assertEq(rec.cashback, 0, "no room under the cap");
        else assertLe(balance, cap, "never over the cap");
    }

    function testFuzz_pay_insufficientBalance(uint256 held, uint256 amount) public {
        held = bound(held, 1, 700_000);
        amount = bound(amount, 1, 1_000_000);
        _buy(citizen, held);
        if (amount > held) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInsufficientBalance.selector, citizen, held, amount
                )
            );
        }
        vm.prank(citizen);
        token.pay(shop0, amount, bytes32(0), noPrograms());
    }

    function testFuzz_pay_institution(uint256 amount, bool blocked) public {
        amount = bound(amount, 1, 1_000_000);
        buy(institution, 1_000_000);
        if (blocked) {
            vm.prank(cityAdmin);
            token.setInstitutionCategory(KSIC_RESTAURANT, true);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherCategoryBlocked.selector, shop0, KSIC_RESTAURANT
                )
            );
        } else if (amount > 500_000) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInstitutionPaymentCapExceeded.selector, amount, 500_000
                )
            );
        }
        vm.prank(institution);
        token.pay(shop0, amount, bytes32(0), noPrograms());
        if (blocked || amount > 500_000) return;
        assertEq(token.balanceOf(institution), 1_000_000 - amount, "no cashback");
        assertEq(token.totalSupply(), 1_000_000, "supply");
    }

    function testFuzz_cancelPayment_restoresPayer(uint256 amount, uint8 rawTier) public {
        amount = bound(amount, 1, 700_000);
        uint256 tier = bound(rawTier, 0, 2);
        address shop = tier == 0 ? shop0 : tier == 1 ? shop1 : shop2;
        buy(citizen, 700_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, amount);
        vm.prank(shop);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(citizen), 700_000, "payer");
        assertEq(token.balanceOf(shop), 0, "merchant");
        assertEq(token.totalSupply(), 700_000, "supply");
        assertFalse(token.isPaymentOnRecord(shop, rec), "off record");
    }

    function testFuzz_cancelPayment_ringOfSixtyFour(uint256 newer) public {
        newer = bound(newer, 0, 100);
        buy(citizen, 200_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 1000);
        for (uint256 i = 0; i < newer; ++i) {
            payGeneral(citizen, shop1, 1000);
        }
        if (newer >= 64) {
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
            );
        }
        vm.prank(shop0);
        token.cancelPayment(rec, rec.amount);
    }

    function testFuzz_cancelPayment_onlyByItsMerchant(address caller) public {
        vm.assume(caller != shop0);
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop0, 30_000);
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function testFuzz_gift(uint256 held, uint256 sentBefore, uint256 amount) public {
        held = bound(held, 1, 700_000);
        sentBefore = bound(sentBefore, 0, held - 1 < 500_000 ? held - 1 : 500_000);
        amount = bound(amount, 1, 700_000);
        _buy(citizen, held);
        if (sentBefore > 0) _gift(citizen, newCitizen(), sentBefore);
        uint256 balance = held - sentBefore;
        if (sentBefore + amount > 500_000) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherGiftSendCapExceeded.selector,
                    citizen,
                    sentBefore + amount,
                    500_000
                )
            );
        } else if (amount > balance) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInsufficientBalance.selector, citizen, balance, amount
                )
            );
        }
        vm.prank(citizen);
        token.gift(friend, amount);
        if (sentBefore + amount > 500_000 || amount > balance) return;
        assertEq(token.balanceOf(citizen), balance - amount, "sender");
        assertEq(token.balanceOf(friend), amount, "receiver");
        (,, uint256 sent,,,,) = token.accountOf(citizen);
        assertEq(sent, sentBefore + amount, "sent");
    }

    function testFuzz_gift_receiveCap(uint256 before, uint256 amount) public {
        before = bound(before, 0, 1_000_000);
        amount = bound(amount, 1, 500_000);
        uint256 left = before;
        while (left > 0) {
            uint256 part = left < 500_000 ? left : 500_000;
            _gift(_richCitizen(part), friend, part);
            left -= part;
        }
        _buy(citizen, amount);
        if (before + amount > 1_000_000) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherGiftReceiveCapExceeded.selector,
                    friend,
                    before + amount,
                    1_000_000
                )
            );
        }
        _gift(citizen, friend, amount);
        (,,, uint256 received,,,) = token.accountOf(friend);
        assertLe(received, 1_000_000, "under the receive cap");
    }

    function testFuzz_redeem(uint256 received, uint256 amount) public {
        received = bound(received, 1, 700_000);
        amount = bound(amount, 1, 1_000_000);
        buy(citizen, 700_000);
        payGeneral(citizen, shop2, received);
        uint256 supply = token.totalSupply();
        if (amount > received) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInsufficientBalance.selector, shop2, received, amount
                )
            );
        }
        vm.prank(shop2);
        token.redeem(amount, keccak256(abi.encode(amount)));
        if (amount > received) return;
        assertEq(token.balanceOf(shop2), received - amount, "merchant");
        assertEq(token.totalSupply(), supply - amount, "burned");
    }

    // ================================================================== helpers

    /// @dev A sale of any face value at the largest discount within 10% (the fixture's `buy`
    /// rounds the price down, which overshoots 10% unless face is a multiple of 10).
    function _buy(address buyer, uint256 face) private {
        vm.prank(issuer);
        token.issue(buyer, face, face - face / 10);
    }

    function _gift(address from, address to, uint256 amount) private {
        vm.prank(from);
        token.gift(to, amount);
    }

    function _setStatus(address merchant, IVoucherTypes.MerchantStatus status, uint40 until)
        private
    {
        vm.prank(registrar);
        token.setMerchantStatus(merchant, status, until);
    }

    /// @dev A new citizen who bought `amount` (<= the monthly cap) at face value.
    function _richCitizen(uint256 amount) private returns (address c) {
        c = newCitizen();
        vm.prank(issuer);
        token.issue(c, amount, amount);
    }

    /// @dev Gives `holder` a general balance of `amount` (<= ₩1.7M): bought up to the monthly
    /// cap, the rest as gifts from fresh citizens.
    function _holdGeneral(address holder, uint256 amount) private {
        uint256 bought = amount < 700_000 ? amount : 700_000;
        buy(holder, bought);
        uint256 rest = amount - bought;
        while (rest > 0) {
            uint256 part = rest < 500_000 ? rest : 500_000;
            _gift(_richCitizen(part), holder, part);
            rest -= part;
        }
    }
}
