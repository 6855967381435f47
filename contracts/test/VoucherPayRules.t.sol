// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice The payments' one-slot copy of the rules in force and the pause flag
/// (VoucherBase `PayRules`): kept in step with both, and not needed on a proxy upgraded from
/// before it existed (its slot is zero there until the next setPaused or rules activation).
contract VoucherPayRulesTest is DongneFixture {
    // VoucherBase's ERC-7201 namespace and the `payRules` field's slot in it
    // (contracts/layout/VoucherStorage.json).
    bytes32 private constant STORAGE_SLOT =
        0x2547453015b5cb138b32d1599510e64765648ffb8af8e58c7789137d1536f900;
    uint256 private constant PAY_RULES_FIELD = 29;

    address internal citizen;
    address internal shop; // tier 0: 10% cashback by the default rules

    function setUp() public override {
        super.setUp();
        citizen = newCitizen();
        shop = newMerchant(KSIC_RESTAURANT, 0);
        buy(citizen, 100_000);
    }

    function test_pay_withoutTheCopyReadsTheRules() public {
        _dropTheCopy();
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 10_000);
        assertEq(rec.cashback, 1000, "10% of the rules in force");
        assertEq(token.balanceOf(citizen), 91_000, "paid 10k, 1k back");
    }

    function test_RevertWhen_pausedWithoutTheCopy() public {
        vm.prank(pauser);
        token.setPaused(true);
        _dropTheCopy();
        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.pay(shop, 1000, bytes32(0), new uint256[](0));
    }

    function test_setPaused_writesTheCopy() public {
        _dropTheCopy();
        vm.prank(pauser);
        token.setPaused(false);
        assertTrue(_copy() != bytes32(0), "written");
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 10_000);
        assertEq(rec.cashback, 1000, "10% from the copy");
    }

    function test_RevertWhen_pausedAfterTheCopy() public {
        vm.prank(pauser);
        token.setPaused(true);
        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.pay(shop, 1000, bytes32(0), new uint256[](0));
        vm.prank(pauser);
        token.setPaused(false);
        payGeneral(citizen, shop, 1000);
    }

    function test_activateRules_updatesTheCopy() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.cashbackBpsTier0 = 300;
        r.revenueCapTier = 1; // the shop (tier 0) stays under it
        r.cashbackMonthlyBase = 5000;
        applyRules(r);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 10_000);
        assertEq(rec.cashback, 150, "3% of the new 5k monthly base");
        r.revenueCapTier = 0; // now the shop is over the revenue cap
        applyRules(r);
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantOverRevenueCap.selector, shop, uint8(0), uint8(0)
            )
        );
        token.pay(shop, 1000, bytes32(0), new uint256[](0));
    }

    function test_activateRules_holdingCapOfTheCopyLimitsCashback() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 90_500;
        applyRules(r);
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 10_000);
        assertEq(rec.cashback, 500, "cashback up to the new holding cap only");
    }

    function _copy() private view returns (bytes32) {
        return vm.load(address(token), _slot());
    }

    /// @dev Leaves the slot as a proxy deployed before the copy existed has it.
    function _dropTheCopy() private {
        assertTrue(_copy() != bytes32(0), "initialize wrote the copy");
        vm.store(address(token), _slot(), bytes32(0));
    }

    function _slot() private pure returns (bytes32) {
        return bytes32(uint256(STORAGE_SLOT) + PAY_RULES_FIELD);
    }
}
