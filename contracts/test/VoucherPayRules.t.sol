// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";
import {VoucherWithoutPayRules} from "./utils/VoucherWithoutPayRules.sol";

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

    // ------------------------------------------------------------------ rollback

    function test_mirrorPayRules_byAnyoneChangesNothingWhenInStep() public {
        bytes32 before = _copy();
        vm.prank(address(0xBEEF)); // no role
        token.mirrorPayRules();
        token.mirrorPayRules();
        assertEq(_copy(), before, "idempotent");
    }

    function test_mirrorPayRules_writesTheCopyOfAnOlderProxy() public {
        _dropTheCopy();
        token.mirrorPayRules();
        assertTrue(_copy() != bytes32(0), "written");
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 10_000);
        assertEq(rec.cashback, 1000, "10% from the copy");
    }

    /// @dev The review finding: the copy was written under this version, the pause happened
    /// under a rolled-back implementation that does not know the copy, and the beacon came back
    /// to this very implementation. The upgrade as chain/upgrades.py batches it re-mirrors, so
    /// the pause holds.
    function test_RevertWhen_pausedUnderARollback() public {
        vm.prank(pauser);
        token.setPaused(false); // the copy, written under this version
        address current = beacon.implementation();
        _rollBackTo(address(new VoucherWithoutPayRules(address(forwarder), registry)));
        vm.prank(pauser);
        VoucherWithoutPayRules(address(token)).setPaused(true);
        _upgradeAsTheTimelockBatch(current);

        assertTrue(token.paused(), "the truth");
        vm.prank(citizen);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.pay(shop, 1000, bytes32(0), new uint256[](0));
    }

    /// @dev The same with rules: proposed under this version, activated under the rollback.
    function test_pay_usesTheRulesActivatedUnderARollback() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.cashbackBpsTier0 = 300;
        vm.prank(cityAdmin);
        token.proposeRules(r);
        address current = beacon.implementation();
        _rollBackTo(address(new VoucherWithoutPayRules(address(forwarder), registry)));
        vm.warp(block.timestamp + r.changeDelay);
        VoucherWithoutPayRules(address(token)).activateRules();
        _upgradeAsTheTimelockBatch(current);

        assertEq(token.rules().cashbackBpsTier0, 300, "the truth");
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 10_000);
        assertEq(rec.cashback, 300, "3% of the rules in force, not the old 10%");
    }

    /// @dev What the timelock batch of chain/upgrades.py runs, in one transaction: the beacon's
    /// upgrade, then the re-mirror of every city.
    function _upgradeAsTheTimelockBatch(address implementation_) private {
        vm.prank(operator);
        beacon.upgradeTo(implementation_);
        token.mirrorPayRules();
    }

    /// @dev Back to an implementation without `mirrorPayRules`: nothing to re-mirror there.
    function _rollBackTo(address implementation_) private {
        vm.prank(operator);
        beacon.upgradeTo(implementation_);
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
