// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {MoneyRulesFixture} from "./utils/MoneyRulesFixture.sol";

/// @notice Partial cancellation: a merchant cancels a payment in parts, up to the whole;
/// general money goes back first, then pockets (last spent first); cashback, platform fee and
/// merchant-funded extra in proportion, exactly.
contract VoucherPartialCancelTest is MoneyRulesFixture {
    address internal citizen;
    address internal shop0; // tier 0: 10% cashback
    address internal app;
    uint256 internal programA;
    uint256 internal programB;

    function setUp() public override {
        super.setUp();
        citizen = newCitizen();
        shop0 = newMerchant(KSIC_RESTAURANT, 0);
        app = newMerchant(KSIC_GROCERY, 0);
        buy(citizen, 100_000);
    }

    function _cancelRevert(IVoucherTypes.PaymentRecord memory rec, uint256 amount, bytes memory err)
        internal
    {
        vm.expectRevert(err);
        vm.prank(shop0);
        token.cancelPayment(rec, amount);
    }

    function test_cancelPayment_inPartsUpToTheWhole() public {
        IVoucherTypes.PaymentRecord memory rec = payRecord(citizen, shop0, 30_000);
        assertEq(rec.cashback, 3000, "cashback");
        IVoucherTypes.PaymentRecord memory stale = copyRecord(rec);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            citizen, shop0, rec.paymentId, 0, 10_000, 10_000, 10_000, 1000, 0, new uint256[](0)
        );
        rec = cancelPart(shop0, rec, 10_000);
        assertEq(token.balanceOf(citizen), 73_000 + 9000, "10k back less 1k cashback");
        assertEq(token.balanceOf(shop0), 20_000, "merchant");
        assertEq(token.totalSupply(), 103_000 - 1000, "supply");
        assertTrue(token.isPaymentOnRecord(shop0, rec), "rest on record");
        assertFalse(token.isPaymentOnRecord(shop0, stale), "old record gone");
        // The old record (stale cancelled) is not the one on record.
        _cancelRevert(
            stale,
            1,
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        rec = cancelPart(shop0, rec, 15_000);
        rec = cancelPart(shop0, rec, 5000);
        assertFalse(token.isPaymentOnRecord(shop0, rec), "fully cancelled");
        assertEq(token.balanceOf(citizen), 100_000, "payer whole");
        assertEq(token.balanceOf(shop0), 0, "merchant");
        assertEq(token.totalSupply(), 100_000, "supply");
        (, uint256 cashbackTotal) = token.fundingTotals();
        assertEq(cashbackTotal, 0, "cashback total");
        _cancelRevert(
            rec, 1, abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
    }

    function test_RevertWhen_cancelPaymentExceedsOrZero() public {
        payRecord(citizen, shop0, 30_000); // the merchant could pay more back
        IVoucherTypes.PaymentRecord memory rec = payRecord(citizen, shop0, 30_000);
        _cancelRevert(
            rec,
            30_001,
            abi.encodeWithSelector(
                IVoucherBase.VoucherCancelExceedsPayment.selector, citizen, 1, 30_001, 30_000
            )
        );
        _cancelRevert(
            rec,
            0,
            abi.encodeWithSelector(
                IVoucherBase.VoucherCancelExceedsPayment.selector, citizen, 1, 0, 30_000
            )
        );
        rec = cancelPart(shop0, rec, 10_000);
        _cancelRevert(
            rec,
            20_001,
            abi.encodeWithSelector(
                IVoucherBase.VoucherCancelExceedsPayment.selector, citizen, 1, 30_001, 30_000
            )
        );
        _cancelRevert(
            rec,
            0,
            abi.encodeWithSelector(
                IVoucherBase.VoucherCancelExceedsPayment.selector, citizen, 1, 10_000, 30_000
            )
        );
        // Claiming less was cancelled than was is a record that is not on file.
        IVoucherTypes.PaymentRecord memory forged = copyRecord(rec);
        forged.cancelled = 5000;
        _cancelRevert(
            forged,
            1,
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 1)
        );
        cancelPart(shop0, rec, 20_000);
    }

    function test_cancelPayment_generalFirstThenPocketsLastSpentFirst() public {
        programA = singleProgram(citizen, 10_000, noCategories());
        programB = singleProgram(citizen, 15_000, noCategories());
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 50_000, freshId(), ids2(programA, programB), address(0));
        assertEq(rec.programAmounts[0], 10_000, "A spent");
        assertEq(rec.programAmounts[1], 15_000, "B spent");
        assertEq(rec.fromGeneral, 25_000, "general");
        assertEq(rec.cashback, 2500, "cashback on general");
        uint256 balance = token.balanceOf(citizen); // 100k - 25k + 2.5k
        assertEq(balance, 77_500, "after pay");

        rec = cancelPart(shop0, rec, 20_000); // general only
        assertEq(token.balanceOf(citizen), balance + 20_000 - 2000, "general back, cashback out");
        assertEq(token.pocketOf(programB, citizen), 0, "B untouched");
        uint256[] memory parts = new uint256[](2);
        parts[1] = 5000;
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            citizen, shop0, rec.paymentId, rec.seq, 10_000, 30_000, 5000, 500, 0, parts
        );
        rec = cancelPart(shop0, rec, 10_000); // the last 5k of general, then 5k of B
        assertEq(token.balanceOf(citizen), balance + 25_000 - 2500, "all general back");
        assertEq(token.pocketOf(programB, citizen), 5000, "B first");
        assertEq(token.pocketOf(programA, citizen), 0, "A not yet");
        rec = cancelPart(shop0, rec, 12_000);
        assertEq(token.pocketOf(programB, citizen), 15_000, "B whole");
        assertEq(token.pocketOf(programA, citizen), 2000, "then A");
        rec = cancelPart(shop0, rec, 8000);
        assertEq(token.pocketOf(programA, citizen), 10_000, "A whole");
        assertEq(token.programOf(programA).spent, 0, "A spent");
        assertEq(token.programOf(programB).spent, 0, "B spent");
        assertEq(token.balanceOf(citizen), 100_000, "general whole");
        assertEq(token.totalSupply(), 100_000, "supply");
    }

    function test_cancelPayment_cashbackProRatedExactly() public {
        IVoucherTypes.PaymentRecord memory rec = payRecord(citizen, shop0, 33_333);
        assertEq(rec.cashback, 3333, "cashback");
        uint256 afterPay = token.balanceOf(citizen);
        rec = cancelPart(shop0, rec, 1);
        assertEq(token.balanceOf(citizen), afterPay + 1, "1 won back, 0.1 won of cashback is 0");
        rec = cancelPart(shop0, rec, 11_110);
        rec = cancelPart(shop0, rec, 7);
        rec = cancelPart(shop0, rec, 22_215);
        assertEq(token.balanceOf(citizen), 100_000, "exactly back");
        (, uint256 cashbackTotal) = token.fundingTotals();
        assertEq(cashbackTotal, 0, "cashback taken back exactly");
    }

    /// @notice Replays a review finding: a platform that had redeemed its fee made the shop's
    /// (partial) cancellations revert, since the fee share could not be taken back from it. A
    /// part whose fee share the platform no longer holds is now paid by the shop alone (the
    /// event's fee part is 0); a part it still holds is taken from it as before.
    function test_cancelPayment_partsAfterThePlatformRedeemedMostOfItsFee() public {
        makePlatform(app, 1000);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 10_000, freshId(), noPrograms(), app);
        vm.prank(app);
        token.redeem(800, "settlement");
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            citizen, shop0, rec.paymentId, rec.seq, 1000, 1000, 1000, 100, 100, new uint256[](0)
        );
        rec = cancelPart(shop0, rec, 1000);
        assertEq(token.balanceOf(app), 100, "the platform still held this part's fee");
        assertEq(token.balanceOf(shop0), 9000 - 900, "shop: its share");
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            citizen, shop0, rec.paymentId, rec.seq, 5000, 6000, 5000, 500, 0, new uint256[](0)
        );
        rec = cancelPart(shop0, rec, 5000);
        assertEq(token.balanceOf(app), 100, "not this part's 500 fee");
        assertEq(token.balanceOf(shop0), 8100 - 5000, "shop: the whole part");
        assertEq(
            token.totalSupply(),
            token.balanceOf(citizen) + token.balanceOf(shop0) + token.balanceOf(app),
            "supply == sum of balances"
        );
    }

    struct Outcome {
        uint256 payer;
        uint256 shop;
        uint256 platform;
        uint256 supply;
        uint256 pocketA;
        uint256 pocketB;
        uint256 spentA;
        uint256 spentB;
        uint256 subsidy;
        uint256 cashback;
        uint256 extraTotal;
        int256 stateCashback;
    }

    function _outcome() internal view returns (Outcome memory o) {
        o.payer = token.balanceOf(citizen);
        o.shop = token.balanceOf(shop0);
        o.platform = token.balanceOf(app);
        o.supply = token.totalSupply();
        o.pocketA = token.pocketOf(programA, citizen);
        o.pocketB = token.pocketOf(programB, citizen);
        o.spentA = token.programOf(programA).spent;
        o.spentB = token.programOf(programB).spent;
        (o.subsidy, o.cashback) = token.fundingTotals();
        o.extraTotal = token.merchantOf(shop0).extraTotal;
        (, o.stateCashback) = token.funderTotals("state");
    }

    /// @notice Any split of a payment (pockets, cashback, a platform fee, a merchant-funded
    /// extra) into k partial cancellations returns exactly what one full cancellation returns.
    function testFuzz_partialCancelsEqualOneFullCancel(
        uint256 pocketA,
        uint256 pocketB,
        uint256 price,
        uint16 feeBps,
        uint16 extraBps,
        uint256 k,
        uint256 splitSeed
    ) public {
        IVoucherTypes.FundingShare[] memory s = new IVoucherTypes.FundingShare[](2);
        s[0] = share("state", 3333, 3333);
        s[1] = share("city", 6667, 6667);
        applyFundingPlan(s);
        programA = singleProgram(citizen, bound(pocketA, 1, 50_000), noCategories());
        programB = singleProgram(citizen, bound(pocketB, 1, 50_000), noCategories());
        makePlatform(app, uint16(bound(feeBps, 0, 2000)));
        setExtra(shop0, uint16(bound(extraBps, 0, 5000)));
        price = bound(price, 2, 100_000); // the pockets go first, general money covers the rest
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, price, freshId(), ids2(programA, programB), app);
        uint256 snapshot = snap.snapshotState();

        cancelPart(shop0, rec, rec.amount);
        Outcome memory full = _outcome();

        snap.revertToState(snapshot);
        k = bound(k, 1, 6);
        uint256 left = rec.amount;
        for (uint256 i = 0; i < k && left > 0; ++i) {
            splitSeed = uint256(keccak256(abi.encode(splitSeed, i)));
            uint256 part = i == k - 1 ? left : bound(splitSeed, 1, left);
            rec = cancelPart(shop0, rec, part);
            left -= part;
        }
        assertFalse(token.isPaymentOnRecord(shop0, rec), "fully cancelled");
        Outcome memory parts = _outcome();
        assertEq(keccak256(abi.encode(parts)), keccak256(abi.encode(full)), "same outcome");
        assertEq(parts.payer, 100_000, "payer whole");
        assertEq(parts.shop + parts.platform, 0, "merchant and platform");
        assertEq(parts.supply, 100_000, "supply");
        assertEq(parts.extraTotal, 0, "extra");
        assertEq(parts.cashback, 0, "cashback");
        assertEq(parts.spentA + parts.spentB, 0, "pockets unspent");
    }

    /// @notice However it is split, cancelled parts never add up to more than the payment.
    function testFuzz_partialCancelsNeverExceedThePayment(uint256 price, uint256 a, uint256 b)
        public
    {
        price = bound(price, 1, 90_000);
        IVoucherTypes.PaymentRecord memory rec = payRecord(citizen, shop0, price);
        a = bound(a, 1, price);
        rec = cancelPart(shop0, rec, a);
        b = bound(b, 1, 2 * price);
        if (a == price) {
            // Fully cancelled: the record is off file.
            _cancelRevert(
                rec,
                b,
                abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
            );
        } else if (a + b > price) {
            _cancelRevert(
                rec,
                b,
                abi.encodeWithSelector(
                    IVoucherBase.VoucherCancelExceedsPayment.selector, citizen, 0, a + b, price
                )
            );
        } else {
            rec = cancelPart(shop0, rec, b);
            assertEq(token.isPaymentOnRecord(shop0, rec), a + b < price, "on record while open");
        }
        assertEq(
            token.balanceOf(shop0) + rec.cancelled, price, "merchant gave back what was cancelled"
        );
    }
}
