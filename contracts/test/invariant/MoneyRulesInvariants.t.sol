// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {VoucherToken} from "../../src/VoucherToken.sol";
import {DongneFixture} from "../utils/DongneFixture.sol";
import {MoneyRulesHandler} from "./MoneyRulesHandler.sol";

/// @notice Invariants of the money rules under random sequences of sales, direct, platform,
/// invoice and employee payments, partial cancellations, rewards (signed and batched), wallet
/// recoveries, merchants' and platforms' terms, funding plans and time.
contract MoneyRulesInvariantsTest is DongneFixture {
    MoneyRulesHandler internal handler;

    function setUp() public override {
        super.setUp();
        VoucherToken core = VoucherToken(address(token));
        MoneyRulesHandler.Config memory c;
        c.token = token;
        c.registry = registry;
        c.operator = operator;
        c.cityAdmin = cityAdmin;
        c.issuer = issuer;
        c.registrar = registrar;
        address rewarder;
        (c.rewarderKey, rewarder) = newKey();
        bytes32 rewarderRole = core.REWARDER_ROLE();
        vm.prank(cityAdmin);
        core.grantRole(rewarderRole, rewarder);
        c.citizens = new address[](3);
        c.spares = new address[](3);
        for (uint256 i = 0; i < 3; ++i) {
            c.citizens[i] = newCitizen();
            c.spares[i] = newCitizen();
        }
        c.institution = newInstitution();
        c.employee = newCitizen();
        c.shops = new address[](3);
        c.shops[0] = newMerchant(KSIC_RESTAURANT, 0);
        c.shops[1] = newMerchant(KSIC_GROCERY, 1);
        c.shops[2] = newMerchant(KSIC_BAR, 0); // excluded for purchased money
        c.platform = newMerchant(KSIC_GROCERY, 0);
        vm.prank(registrar);
        token.setPlatform(c.platform, true, 150);
        vm.prank(cityAdmin);
        token.setExcludedCategory(KSIC_BAR, true);
        address[] memory bar = new address[](1);
        bar[0] = c.shops[2];
        token.syncMerchantExclusion(bar);
        vm.prank(cityAdmin);
        token.setInstitutionLimits(c.institution, 300_000, 0);
        vm.prank(c.institution);
        token.setEmployee(c.employee, 300_000);

        IVoucherTypes.RewardParams memory p;
        p.budget = 30_000;
        p.start = uint40(block.timestamp);
        p.expiry = uint40(block.timestamp + 400 days);
        p.dailyCap = 300;
        p.monthlyCap = 2000;
        p.categories = new uint24[](2);
        p.categories[0] = KSIC_RESTAURANT;
        p.categories[1] = KSIC_BAR;
        p.ref = "walking";
        vm.prank(manager);
        c.rewardProgramId = token.createRewardProgram(p);

        c.funders = new bytes32[](5);
        c.funders[0] = "state";
        c.funders[1] = "gyeonggi";
        c.funders[2] = "siheung";
        c.funders[3] = "district";
        c.funders[4] = "merchants";
        IVoucherTypes.FundingShare[] memory plan = new IVoucherTypes.FundingShare[](3);
        plan[0] = IVoucherTypes.FundingShare("state", 3333, 3333);
        plan[1] = IVoucherTypes.FundingShare("gyeonggi", 3333, 3334);
        plan[2] = IVoucherTypes.FundingShare("siheung", 3334, 3333);
        vm.prank(cityAdmin);
        token.proposeFundingPlan(plan);
        vm.warp(block.timestamp + token.rules().changeDelay);
        token.activateFundingPlan();

        handler = new MoneyRulesHandler(c);
        bytes4[] memory selectors = new bytes4[](11);
        selectors[0] = MoneyRulesHandler.issue.selector;
        selectors[1] = MoneyRulesHandler.pay.selector;
        selectors[2] = MoneyRulesHandler.payAsEmployee.selector;
        selectors[3] = MoneyRulesHandler.invoice.selector;
        selectors[4] = MoneyRulesHandler.cancel.selector;
        selectors[5] = MoneyRulesHandler.claimReward.selector;
        selectors[6] = MoneyRulesHandler.rewardBatch.selector;
        selectors[7] = MoneyRulesHandler.recover.selector;
        selectors[8] = MoneyRulesHandler.setTerms.selector;
        selectors[9] = MoneyRulesHandler.funding.selector;
        selectors[10] = MoneyRulesHandler.warp.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice Every book of the money rules balances (the checks below), after every call.
    /// A quarter of the ci profile's runs, still 128 calls deep: the whole invariant campaign
    /// must stay within about two minutes next to the core invariants.
    /// forge-config: ci.invariant.runs = 32
    function invariant_moneyRulesBooksBalance() public view {
        _assertSupplyAndFunders();
        _assertRewardsWithinBudgetAndCaps();
        _assertRecoveryConserved();
        _assertPaymentsSingleUseAndCancelledWithinAmount();
    }

    /// @notice General balances add up to the supply; the funding totals are the subsidies
    /// and net cashback that happened, and every funder's share of every plan version adds up
    /// to them exactly (plan 1 was in force from the first sale).
    function _assertSupplyAndFunders() internal view {
        assertEq(handler.sumBalances(), token.totalSupply(), "sum of balances == supply");
        (uint256 subsidy, uint256 cashback) = token.fundingTotals();
        assertEq(subsidy, handler.ghost_subsidy(), "subsidy total");
        assertEq(cashback, handler.ghost_cashback(), "cashback total");
        bytes32[] memory funders = handler.funders();
        int256 s;
        int256 c;
        for (uint256 i = 0; i < funders.length; ++i) {
            (int256 fs, int256 fc) = token.funderTotals(funders[i]);
            s += fs;
            c += fc;
        }
        assertTrue(s == int256(subsidy), "funders' subsidies == total");
        assertTrue(c == int256(cashback), "funders' cashback == total");
        int256 vs;
        int256 vc;
        for (uint256 v = 1; v <= token.fundingVersion(); ++v) {
            (int256 fs, int256 fc) = token.fundedBy(v);
            vs += fs;
            vc += fc;
        }
        assertTrue(vs == int256(subsidy) && vc == int256(cashback), "versions == totals");
    }

    /// @notice The reward program never grants over its budget, nobody is paid over the day's
    /// or the month's cap, and its pockets plus what was spent from them are what it granted.
    function _assertRewardsWithinBudgetAndCaps() internal view {
        uint256 id = handler.rewardProgramId();
        IVoucherTypes.Program memory p = token.programOf(id);
        assertEq(p.granted, handler.ghost_rewarded(), "granted");
        assertLe(p.granted, p.budget, "granted <= budget");
        assertLe(handler.ghost_maxRewardDay(), handler.dailyCap(), "daily cap");
        assertLe(handler.ghost_maxRewardMonth(), handler.monthlyCap(), "monthly cap");
        assertEq(handler.sumPockets() + p.spent, p.granted, "pockets + spent == granted");
        assertEq(p.spent, handler.ghost_pocketSpentNet(), "spent");
        address[] memory holders = handler.holders();
        for (uint256 i = 0; i < holders.length; ++i) {
            (uint256 today, uint256 month) = token.rewardsOf(id, holders[i]);
            assertLe(today, handler.dailyCap(), "today <= daily cap");
            assertLe(month, handler.monthlyCap(), "month <= monthly cap");
        }
    }

    /// @notice Recoveries moved exactly the lost wallets' balances and pockets (checked when
    /// they happened), and a lost wallet stays empty and frozen.
    function _assertRecoveryConserved() internal view {
        assertEq(handler.ghost_recoveryMismatches(), 0, "recovery conserves");
        address[] memory lost = handler.lostWallets();
        uint256 id = handler.rewardProgramId();
        for (uint256 i = 0; i < lost.length; ++i) {
            assertEq(token.balanceOf(lost[i]), 0, "lost wallet empty");
            assertEq(token.pocketOf(id, lost[i]), 0, "lost pocket empty");
            assertEq(token.recoveredTo(lost[i]), handler.recoveredTo(lost[i]), "recovered to");
            (, bool frozen) = registry.identityOf(lost[i]);
            assertTrue(frozen, "lost wallet frozen");
        }
    }

    /// @notice No invoice was paid twice, no payment was cancelled over its amount, and each
    /// merchant's extraTotal is the extras it gave, net of cancellations.
    function _assertPaymentsSingleUseAndCancelledWithinAmount() internal view {
        assertEq(handler.ghost_invoicesPaidTwice(), 0, "an invoice is paid at most once");
        assertEq(handler.ghost_cancelledOverPayment(), 0, "cancelled <= amount");
        address[] memory shops = handler.shops();
        for (uint256 i = 0; i < shops.length; ++i) {
            assertEq(
                token.merchantOf(shops[i]).extraTotal, handler.ghost_extra(shops[i]), "extraTotal"
            );
        }
    }

    /// @notice One fixed pseudo-random sequence reaches every action of the handler and keeps
    /// every invariant after each step.
    function test_moneyRulesHandler_everyActionRuns() public {
        for (uint256 i = 0; i < 300; ++i) {
            this.stepAndCheck(uint256(keccak256(abi.encode("money-rules", i))));
        }
        string[14] memory actions = [
            "issue",
            "pay",
            "payThroughPlatform",
            "payAsEmployee",
            "invoice",
            "replayInvoice",
            "cancel",
            "claimReward",
            "claimRewardReplay",
            "rewardBatch",
            "recover",
            "setTerms",
            "proposeFundingPlan",
            "activateFundingPlan"
        ];
        for (uint256 i = 0; i < actions.length; ++i) {
            assertGe(handler.calls(bytes32(bytes(actions[i]))), 1, actions[i]);
        }
        assertGe(handler.paymentCount(), 30, "payments");
    }

    function stepAndCheck(uint256 r) external {
        uint256 a = uint256(keccak256(abi.encode(r, 1)));
        uint256 b = uint256(keccak256(abi.encode(r, 2)));
        uint256 c = uint256(keccak256(abi.encode(r, 3)));
        uint256 k = r % 12;
        if (k == 0 || k == 11) handler.issue(a, b, c);
        else if (k == 1) handler.pay(a, b, c, r >> 8);
        else if (k == 2) handler.payAsEmployee(a, b);
        else if (k == 3) handler.invoice(a, b, c, r >> 8);
        else if (k == 4) handler.cancel(a, b, r >> 8);
        else if (k == 5) handler.claimReward(a, b, c % 4 == 0);
        else if (k == 6) handler.rewardBatch(a, b, c);
        else if (k == 7) handler.recover(a);
        else if (k == 8) handler.setTerms(a, b, c % 2 == 0);
        else if (k == 9) handler.funding(a);
        else handler.warp(a % 1 days);
        invariant_moneyRulesBooksBalance();
    }
}
