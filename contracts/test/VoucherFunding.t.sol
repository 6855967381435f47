// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {MoneyRulesFixture} from "./utils/MoneyRulesFixture.sol";

/// @notice Funding plans: who pays each discount subsidy and cashback, versioned like the
/// rules, with exact per-funder totals.
contract VoucherFundingTest is MoneyRulesFixture {
    bytes32 internal constant STATE = "state";
    bytes32 internal constant PROVINCE = "gyeonggi";
    bytes32 internal constant CITY = "siheung";
    bytes32 internal constant DISTRICT = "district";

    address internal citizen;
    address internal shop0;

    function setUp() public override {
        super.setUp();
        citizen = newCitizen();
        shop0 = newMerchant(KSIC_RESTAURANT, 0);
    }

    function _thirds() internal pure returns (IVoucherTypes.FundingShare[] memory s) {
        s = new IVoucherTypes.FundingShare[](3);
        s[0] = share(STATE, 3333, 3333);
        s[1] = share(PROVINCE, 3333, 3334);
        s[2] = share(CITY, 3334, 3333);
    }

    function _sumFunders(bytes32[4] memory funders)
        internal
        view
        returns (int256 subsidy, int256 cashback)
    {
        for (uint256 i = 0; i < funders.length; ++i) {
            (int256 s, int256 c) = token.funderTotals(funders[i]);
            subsidy += s;
            cashback += c;
        }
    }

    function _all() internal pure returns (bytes32[4] memory) {
        return [STATE, PROVINCE, CITY, DISTRICT];
    }

    // ================================================================== lifecycle

    function test_proposeFundingPlan_pendingUntilActivated() public {
        IVoucherTypes.FundingShare[] memory s = _thirds();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.FundingPlanProposed(1, block.timestamp + 1 days, s);
        vm.prank(cityAdmin);
        uint256 version = token.proposeFundingPlan(s);
        assertEq(version, 1, "version");
        assertEq(token.fundingVersion(), 0, "not yet in force");
        (IVoucherTypes.FundingShare[] memory pending, uint256 at) = token.pendingFundingPlan();
        assertEq(pending.length, 3, "pending shares");
        assertEq(pending[2].funder, CITY, "funder");
        assertEq(at, block.timestamp + 1 days, "effective at");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherFundingPlanNotYetEffective.selector, block.timestamp + 1 days
            )
        );
        token.activateFundingPlan();
        buy(citizen, 100_000); // subsidy 10k before any plan
        vm.warp(block.timestamp + 1 days);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.FundingPlanActivated(1, 10_000, 0);
        vm.prank(citizen); // anyone
        token.activateFundingPlan();
        assertEq(token.fundingVersion(), 1, "in force");
        assertEq(token.fundingPlan(1)[1].cashbackBps, 3334, "stored");
        (, at) = token.pendingFundingPlan();
        assertEq(at, 0, "nothing pending");
        (int256 subsidy, int256 cashback) = token.fundedBy(1);
        assertEq(uint256(subsidy), 0, "sales before the plan are nobody's");
        assertEq(uint256(cashback), 0, "cashback");
    }

    function test_cancelPendingFundingPlan() public {
        vm.prank(cityAdmin);
        token.proposeFundingPlan(_thirds());
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.FundingPlanCancelled(1);
        vm.prank(cityAdmin);
        token.cancelPendingFundingPlan();
        vm.warp(block.timestamp + 2 days);
        vm.expectRevert(IVoucherBase.VoucherNoPendingFundingPlan.selector);
        token.activateFundingPlan();
        vm.expectRevert(IVoucherBase.VoucherNoPendingFundingPlan.selector);
        vm.prank(cityAdmin);
        token.cancelPendingFundingPlan();
        // A new proposal replaces whatever the cancelled one left.
        IVoucherTypes.FundingShare[] memory one = new IVoucherTypes.FundingShare[](1);
        one[0] = share(CITY, 10_000, 10_000);
        assertEq(applyFundingPlan(one), 1, "version 1");
        assertEq(token.fundingPlan(1).length, 1, "only the new shares");
    }

    function test_proposeFundingPlan_zeroDelayAppliesAtOnce() public {
        IVoucherTypes.Rules memory r = defaultRules();
        r.changeDelay = 0;
        applyRules(r);
        vm.prank(cityAdmin);
        token.proposeFundingPlan(_thirds());
        assertEq(token.fundingVersion(), 1, "in force at once");
    }

    function test_RevertWhen_fundingPlanByNonAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, manager, bytes32(0)
            )
        );
        vm.prank(manager);
        token.proposeFundingPlan(_thirds());
        vm.prank(cityAdmin);
        token.proposeFundingPlan(_thirds());
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, manager, bytes32(0)
            )
        );
        vm.prank(manager);
        token.cancelPendingFundingPlan();
    }

    function _expectInvalid(IVoucherTypes.FundingShare[] memory s, bytes32 field) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvalidFundingPlan.selector, field)
        );
        vm.prank(cityAdmin);
        token.proposeFundingPlan(s);
    }

    function test_RevertWhen_fundingPlanInvalid() public {
        _expectInvalid(new IVoucherTypes.FundingShare[](0), "funders");
        IVoucherTypes.FundingShare[] memory many = new IVoucherTypes.FundingShare[](17);
        for (uint256 i = 0; i < 17; ++i) {
            many[i] = share(bytes32(i + 1), i == 0 ? 10_000 : 0, i == 0 ? 10_000 : 0);
        }
        _expectInvalid(many, "funders");
        IVoucherTypes.FundingShare[] memory s = _thirds();
        s[1].funder = bytes32(0);
        _expectInvalid(s, "funder");
        s = _thirds();
        s[2].funder = STATE;
        _expectInvalid(s, "duplicate");
        s = _thirds();
        s[0].subsidyBps = 3332;
        _expectInvalid(s, "subsidyBps");
        s = _thirds();
        s[0].cashbackBps = 3334;
        _expectInvalid(s, "cashbackBps");
        // Sixteen funders are fine.
        IVoucherTypes.FundingShare[] memory sixteen = new IVoucherTypes.FundingShare[](16);
        for (uint256 i = 0; i < 16; ++i) {
            sixteen[i] = share(bytes32(i + 1), 625, 625);
        }
        vm.prank(cityAdmin);
        token.proposeFundingPlan(sixteen);
    }

    function test_RevertWhen_fundedByUnknownVersion() public {
        bytes memory err = abi.encodeWithSelector(
            IVoucherBase.VoucherInvalidFundingPlan.selector, bytes32("version")
        );
        vm.expectRevert(err);
        token.fundedBy(1);
        applyFundingPlan(_thirds());
        vm.expectRevert(err);
        token.fundedBy(0);
        vm.expectRevert(err);
        token.fundedBy(2);
    }

    // ================================================================== totals

    function test_fundingTotals_subsidyAndCashback() public {
        applyFundingPlan(_thirds());
        buy(citizen, 100_000); // 10% off: 10k subsidy
        payRecord(citizen, shop0, 30_000); // 3k cashback
        (uint256 subsidy, uint256 cashback) = token.fundingTotals();
        assertEq(subsidy, 10_000, "subsidy");
        assertEq(cashback, 3000, "cashback");
        (int256 s, int256 c) = token.fundedBy(1);
        assertEq(uint256(s), 10_000, "version 1 subsidy");
        assertEq(uint256(c), 3000, "version 1 cashback");
        (s, c) = token.funderTotals(STATE);
        assertEq(uint256(s), 3333, "state subsidy");
        assertEq(uint256(c), 999, "state cashback");
        (s, c) = token.funderTotals(PROVINCE);
        assertEq(uint256(s), 3333, "province subsidy");
        assertEq(uint256(c), 1001, "province cashback (cut by cumulative bps)");
        (s, c) = token.funderTotals(CITY);
        assertEq(uint256(s), 3334, "city subsidy");
        assertEq(uint256(c), 1000, "city cashback");
        (s, c) = token.funderTotals(DISTRICT);
        assertEq(uint256(s) + uint256(c), 0, "not a funder");
    }

    function test_funderTotals_sumExactlyAcrossVersionsWithOddAmounts() public {
        vm.prank(issuer);
        token.issue(citizen, 1001, 901); // before any plan: nobody's
        (uint256 subsidyAt, uint256 cashbackAt) = token.fundingTotals();
        applyFundingPlan(_thirds());
        vm.prank(issuer);
        token.issue(citizen, 123_457, 123_457 - 10_001);
        payRecord(citizen, shop0, 33_337);
        payRecord(citizen, shop0, 7);
        IVoucherTypes.FundingShare[] memory s = new IVoucherTypes.FundingShare[](3);
        s[0] = share(DISTRICT, 1, 9999);
        s[1] = share(CITY, 4999, 0);
        s[2] = share(STATE, 5000, 1);
        applyFundingPlan(s);
        vm.prank(issuer);
        token.issue(citizen, 99_999, 99_999 - 9997);
        IVoucherTypes.PaymentRecord memory rec = payRecord(citizen, shop0, 12_345);
        cancelPart(shop0, rec, 12_345);
        payRecord(citizen, shop0, 11_111);
        (uint256 subsidy, uint256 cashback) = token.fundingTotals();
        (int256 fs, int256 fc) = _sumFunders(_all());
        assertEq(uint256(fs), subsidy - subsidyAt, "subsidy since plan 1");
        assertEq(uint256(fc), cashback - cashbackAt, "cashback since plan 1");
        (int256 s1, int256 c1) = token.fundedBy(1);
        (int256 s2, int256 c2) = token.fundedBy(2);
        assertEq(uint256(s1 + s2), subsidy - subsidyAt, "versions add up (subsidy)");
        assertEq(uint256(c1 + c2), cashback - cashbackAt, "versions add up (cashback)");
    }

    function test_funderTotals_cancellationReducesCashback() public {
        applyFundingPlan(_thirds());
        buy(citizen, 100_000);
        IVoucherTypes.PaymentRecord memory rec = payRecord(citizen, shop0, 30_001);
        assertEq(rec.cashback, 3000, "cashback");
        // A new plan, then the payment of plan 1 is cancelled: plan 2's cashback is negative.
        IVoucherTypes.FundingShare[] memory s = new IVoucherTypes.FundingShare[](2);
        s[0] = share(STATE, 5000, 5000);
        s[1] = share(DISTRICT, 5000, 5000);
        applyFundingPlan(s);
        cancelPart(shop0, rec, 10_001);
        (, uint256 cashback) = token.fundingTotals();
        assertEq(cashback, 2000, "a third of the cashback taken back");
        (, int256 c2) = token.fundedBy(2);
        assertEqInt(c2, -1000, "booked in plan 2");
        (, int256 stateCashback) = token.funderTotals(STATE);
        (, int256 districtCashback) = token.funderTotals(DISTRICT);
        assertEq(uint256(stateCashback + 500), 999, "state: 999 in plan 1, -500 in plan 2");
        assertEqInt(districtCashback, -500, "district: -500");
        (, int256 sum) = _sumFunders(_all());
        assertEq(uint256(sum), 2000, "funders add up to the net cashback");
    }

    function testFuzz_funderTotals_noRoundingDrift(
        uint16 a,
        uint16 b,
        uint16 c,
        uint16 d,
        uint256[4] memory faces,
        uint256[4] memory payments,
        uint256 cancelSeed
    ) public {
        a = uint16(bound(a, 0, 10_000));
        b = uint16(bound(b, 0, 10_000 - a));
        c = uint16(bound(c, 0, 10_000));
        d = uint16(bound(d, 0, 10_000 - c));
        IVoucherTypes.FundingShare[] memory s = new IVoucherTypes.FundingShare[](3);
        s[0] = share(STATE, a, c);
        s[1] = share(PROVINCE, b, d);
        s[2] = share(CITY, 10_000 - a - b, 10_000 - c - d);
        applyFundingPlan(s);
        IVoucherTypes.PaymentRecord[] memory recs = new IVoucherTypes.PaymentRecord[](4);
        for (uint256 i = 0; i < 4; ++i) {
            uint256 face = bound(faces[i], 1, 150_000);
            vm.prank(issuer);
            token.issue(citizen, face, face - face * (faces[i] % 1001) / BPS);
            uint256 amount = bound(payments[i], 1, token.balanceOf(citizen));
            recs[i] = payRecord(citizen, shop0, amount);
            if (i == 1) {
                // Switch plans halfway, with the funders rotated.
                (s[0].funder, s[1].funder, s[2].funder) = (DISTRICT, STATE, PROVINCE);
                applyFundingPlan(s);
            }
        }
        IVoucherTypes.PaymentRecord memory victim = recs[cancelSeed % 4];
        cancelPart(shop0, victim, bound(cancelSeed, 1, victim.amount));
        (uint256 subsidy, uint256 cashback) = token.fundingTotals();
        (int256 fs, int256 fc) = _sumFunders(_all());
        assertEq(uint256(fs), subsidy, "funders' subsidies == total");
        assertEq(uint256(fc), cashback, "funders' cashback == total");
    }
}
