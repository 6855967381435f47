// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice Issue 12, items 16-19: each attack replayed against the contracts, the harm absent.
contract VoucherHardeningTest is DongneFixture {
    // ------------------------------------------------------------------ 16: a ban holds

    function test_RevertWhen_aBanIsLiftedOrShortenedEarly() public {
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        uint40 until = uint40(T0 + 365 days);
        vm.startPrank(registrar);
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until);
        // The replayed attack: reactivate the banned shop at once.
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantBanned.selector, shop, until)
        );
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Active, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherMerchantBanned.selector, shop, until)
        );
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until - 1);
        // Extending is allowed; the ban then runs to its new end.
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Cancelled, until + 30 days);
        vm.stopPrank();
        assertEq(
            uint8(token.merchantOf(shop).status), uint8(IVoucherTypes.MerchantStatus.Cancelled)
        );

        // Once it has run out, the registrar may reinstate the shop.
        vm.warp(uint256(until) + 30 days + 1);
        vm.prank(registrar);
        token.setMerchantStatus(shop, IVoucherTypes.MerchantStatus.Active, 0);
        assertEq(uint8(token.merchantOf(shop).status), uint8(IVoucherTypes.MerchantStatus.Active));
    }

    // ------------------------------------------------------------------ 17: gifts and refunds

    function test_RevertWhen_aCitizenGiftsToThemselves() public {
        address alice = newCitizen();
        buy(alice, 100_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherSelfGift.selector, alice));
        token.gift(alice, 10_000);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherSelfGift.selector, alice));
        IERC20(address(token)).transfer(alice, 10_000);
    }

    /// The replayed attack: buy ₩100k, gift ₩80k to a friend, refund the rest as if 80% were
    /// spent. A gift is not spending: it leaves the refund basis, so nothing is refundable
    /// until the holder really spends 80% of what is left of it.
    function test_giftsDoNotMeetTheRefundThreshold() public {
        address alice = newCitizen();
        address friend = newCitizen();
        address shop = newMerchant(KSIC_RESTAURANT, 3); // tier 3: no cashback to muddle sums
        IVoucherTypes.Rules memory r = defaultRules();
        r.revenueCapTier = 4;
        applyRules(r);
        buy(alice, 100_000);
        vm.prank(alice);
        token.gift(friend, 80_000);
        // 20k bought left, none of it spent.
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherRefundThresholdNotMet.selector, alice, 0, 8000
            )
        );
        token.refund();
        // Spending 16k of the 20k that stayed is 80%: the last 4k is refundable, at its price.
        payGeneral(alice, shop, 16_000);
        vm.prank(alice);
        (uint256 face, uint256 cash) = token.refund();
        assertEq(face, 4000, "face refunded");
        assertEq(cash, 3600, "at the price paid for it");
    }

    /// The replayed attack: spend 80% at a shop, refund the rest, then have the shop cancel
    /// the payment - the threshold was met with spending that did not stay spent. A refund
    /// closes the payments before it.
    function test_RevertWhen_aPaymentBeforeARefundIsCancelled() public {
        address alice = newCitizen();
        address shop = newMerchant(KSIC_RESTAURANT, 0);
        buy(alice, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(alice, shop, 80_000);
        vm.prank(alice);
        token.refund();
        vm.prank(shop);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherPaymentClosedByRefund.selector, alice, rec.seq, rec.seq + 1
            )
        );
        token.cancelPayment(rec, rec.amount);
        // A payment after the refund can still be cancelled.
        IVoucherTypes.PaymentRecord memory later = payGeneralRecord(alice, shop, 5000);
        vm.prank(shop);
        token.cancelPayment(later, later.amount);
    }

    // ------------------------------------------------------------------ 18: cancellation vs cap

    /// The rule chosen: a cancellation gives back money that was the payer's a moment ago, so
    /// it may take them over the holding cap (refusing would leave the merchant unable to undo
    /// the sale). New money - purchases, gifts, cashback - stays capped.
    function test_aCancellationMayExceedTheHoldingCap() public {
        address alice = newCitizen();
        address shop = newMerchant(KSIC_RESTAURANT, 3);
        IVoucherTypes.Rules memory r = defaultRules();
        r.revenueCapTier = 4;
        r.monthlyPurchaseCap = 2_000_000;
        applyRules(r);
        buy(alice, 1_500_000);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(alice, shop, 100_000);
        buy(alice, 100_000); // back at the ₩1.5M cap
        vm.prank(shop);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(alice), 1_600_000, "over the cap by the cancelled payment");
        vm.prank(issuer);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherHoldingCapExceeded.selector, alice, 1_610_000, 1_500_000
            )
        );
        token.issue(alice, 10_000, 9000);
    }

    // ------------------------------------------------------------------ 19: empty and zero

    function test_RevertWhen_aGrantBatchIsEmpty() public {
        IVoucherTypes.ProgramParams memory params;
        params.root = keccak256("root");
        params.budget = 1_000_000;
        params.start = uint40(T0);
        params.expiry = uint40(T0 + 30 days);
        vm.prank(manager);
        uint256 id = token.createProgram(params);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramEmptyBatch.selector, id));
        token.grantBatch(id, new IVoucherTypes.Grant[](0), new bytes32[](1), new bool[](0));
    }

    function test_aZeroValueTransferIsANoOpWithItsEvent() public {
        address alice = newCitizen();
        address stranger = address(0xBEEF);
        buy(alice, 10_000);
        uint256 supply = token.totalSupply();
        vm.expectEmit(true, true, true, true, address(token));
        emit IERC20.Transfer(alice, stranger, 0);
        vm.prank(alice);
        assertTrue(IERC20(address(token)).transfer(stranger, 0), "returns true");
        assertEq(token.balanceOf(alice), 10_000, "nothing moved");
        assertEq(token.totalSupply(), supply, "nothing minted");
        // Payments and gifts of zero still say what they are.
        address friend = newCitizen();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherInvalidAmount.selector, 0));
        token.gift(friend, 0);
    }
}
