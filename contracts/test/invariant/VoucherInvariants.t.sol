// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IIdentityRegistry} from "../../src/interfaces/IIdentityRegistry.sol";
import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {VoucherAdmin} from "../../src/VoucherAdmin.sol";
import {VoucherToken} from "../../src/VoucherToken.sol";
import {DongneFixture} from "../utils/DongneFixture.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";
import {VoucherHandler} from "./VoucherHandler.sol";

/// @notice Invariants of a whole municipality's voucher token under random sequences of sales,
/// payments (general and from a policy program's pocket), cancellations, gifts, redemptions,
/// refunds, pushed and pulled grants, time jumps across KST month boundaries and the program's
/// expiry, closing, rule changes and beacon upgrades.
contract VoucherInvariantsTest is DongneFixture {
    using MerkleBuilder for MerkleBuilder.Tree;

    uint256 internal constant LEAVES = 16;

    VoucherHandler internal handler;
    uint256 internal programId;

    function setUp() public override {
        super.setUp();
        // Today's rules with the caps scaled down so that a 64-call run reaches them.
        IVoucherTypes.Rules memory r = defaultRules();
        r.holdingCap = 400_000;
        r.monthlyPurchaseCap = 300_000;
        r.giftSendCap = 150_000;
        r.giftReceiveCap = 250_000;
        r.cashbackMonthlyBase = 200_000;
        r.institutionPaymentCap = 200_000;
        vm.prank(cityAdmin);
        token.proposeRules(r);
        vm.warp(block.timestamp + r.changeDelay);
        token.activateRules();

        VoucherHandler.Config memory c;
        c.token = token;
        c.beacon = beacon;
        // Deployed once here rather than in the handler: deploying in every upgrade call
        // doubled the campaign's time.
        c.implementations = new address[](3);
        for (uint256 i = 0; i < 3; ++i) {
            VoucherAdmin admin =
                new VoucherAdmin(address(forwarder), registry, address(servicesModule));
            c.implementations[i] =
                address(new VoucherToken(address(forwarder), registry, address(admin)));
        }
        c.operator = operator;
        c.cityAdmin = cityAdmin;
        c.issuer = issuer;
        c.manager = manager;
        c.citizens = new address[](4);
        c.holderKeys = new uint256[](5);
        for (uint256 i = 0; i < 4; ++i) {
            (c.holderKeys[i], c.citizens[i]) = newKey();
            vm.prank(operator);
            registry.register(c.citizens[i], IIdentityRegistry.Kind.Citizen);
        }
        (c.holderKeys[4], c.institution) = newKey();
        vm.prank(operator);
        registry.register(c.institution, IIdentityRegistry.Kind.Institution);
        c.merchants = new address[](5);
        c.merchants[0] = newMerchant(KSIC_RESTAURANT, 0);
        c.merchants[1] = newMerchant(KSIC_GROCERY, 1);
        c.merchants[2] = newMerchant(KSIC_GROCERY, 2);
        c.merchants[3] = newMerchant(KSIC_BAR, 0); // the program does not allow bars
        c.merchants[4] = newMerchant(KSIC_GROCERY, 3); // over the revenue cap
        // 16 leaves over five holders; indices spread over three bitmap words.
        c.leaves = new IVoucherTypes.Grant[](LEAVES);
        uint256 budget = 0;
        for (uint256 i = 0; i < LEAVES; ++i) {
            address recipient = i % 5 == 4 ? c.institution : c.citizens[i % 5];
            c.leaves[i] = MerkleBuilder.grant(i * 40 + 1, recipient, 5000 + i * 2500);
            budget += c.leaves[i].amount;
        }
        c.programCategories = new uint24[](2);
        c.programCategories[0] = KSIC_RESTAURANT;
        c.programCategories[1] = KSIC_GROCERY;
        IVoucherTypes.ProgramParams memory p;
        p.root = MerkleBuilder.build(c.leaves).root();
        p.budget = uint64(budget);
        p.start = uint40(block.timestamp + 1 days);
        p.expiry = uint40(block.timestamp + 45 days);
        p.revenueCapWaived = true;
        p.categories = c.programCategories;
        p.ref = "SH-2026-winter-relief";
        vm.prank(manager);
        programId = token.createProgram(p);
        c.programId = programId;
        handler = new VoucherHandler(c);

        bytes4[] memory selectors = new bytes4[](17);
        selectors[0] = VoucherHandler.issue.selector;
        selectors[1] = VoucherHandler.payGeneral.selector;
        selectors[2] = VoucherHandler.payWithPocket.selector;
        selectors[3] = VoucherHandler.cancel.selector;
        selectors[4] = VoucherHandler.gift.selector;
        selectors[5] = VoucherHandler.redeem.selector;
        selectors[6] = VoucherHandler.refund.selector;
        selectors[7] = VoucherHandler.grant.selector;
        selectors[8] = VoucherHandler.claim.selector;
        selectors[9] = VoucherHandler.closeProgram.selector;
        selectors[10] = VoucherHandler.probeDeadPocket.selector;
        selectors[11] = VoucherHandler.probeForbiddenEdge.selector;
        selectors[12] = VoucherHandler.warp.selector;
        selectors[13] = VoucherHandler.proposeRules.selector;
        selectors[14] = VoucherHandler.activateRules.selector;
        selectors[15] = VoucherHandler.upgrade.selector;
        selectors[16] = VoucherHandler.payBySig.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    // ================================================================== (1) supply

    /// @notice The general balances of everyone who can hold money add up to the total supply
    /// (pockets are not supply until spent).
    function invariant_generalBalancesSumToTotalSupply() public view {
        uint256 sum = 0;
        address[] memory holders = handler.holders();
        address[] memory merchants = handler.merchants();
        for (uint256 i = 0; i < holders.length; ++i) {
            sum += token.balanceOf(holders[i]);
        }
        for (uint256 i = 0; i < merchants.length; ++i) {
            sum += token.balanceOf(merchants[i]);
        }
        assertEq(sum, token.totalSupply(), "sum of general balances == totalSupply");
    }

    // ================================================================== (2) edges

    /// @notice Money reaches holders only by sale, gift, cancellation restore and cashback, and
    /// leaves merchants only by redemption and cancellation.
    function invariant_moneyMovesOnlyAlongAllowedEdges() public view {
        _assertHolderBalancesMoveOnlyAlongAllowedEdges();
        _assertMerchantBalancesFallOnlyByRedeemOrCancel();
    }

    /// @notice A holder's general balance is exactly what reached it by sale, gift, cancellation
    /// restore and cashback, less what left it by payment, gift and refund: money reaches a
    /// non-merchant along no other edge. Institutions receive neither gifts nor cashback.
    function _assertHolderBalancesMoveOnlyAlongAllowedEdges() internal view {
        address[] memory holders = handler.holders();
        for (uint256 i = 0; i < holders.length; ++i) {
            address h = holders[i];
            uint256 credits = handler.ghost_issued(h) + handler.ghost_giftIn(h)
                + handler.ghost_cancelBack(h) + handler.ghost_cashback(h);
            uint256 debits =
                handler.ghost_paidGeneral(h) + handler.ghost_giftOut(h) + handler.ghost_refunded(h);
            assertEq(
                token.balanceOf(h), credits - debits, "holder balance == allowed credits - debits"
            );
        }
        address inst = handler.institution();
        assertEq(handler.ghost_giftIn(inst) + handler.ghost_cashback(inst), 0, "institution");
    }

    /// @notice A merchant's balance is its payments received less its redemptions and the
    /// payments it cancelled, and it never fell in any other action.
    function _assertMerchantBalancesFallOnlyByRedeemOrCancel() internal view {
        address[] memory merchants = handler.merchants();
        for (uint256 i = 0; i < merchants.length; ++i) {
            address m = merchants[i];
            assertEq(
                token.balanceOf(m),
                handler.ghost_received(m) - handler.ghost_redeemed(m)
                    - handler.ghost_cancelledOut(m),
                "merchant balance == received - redeemed - cancelled"
            );
        }
        assertEq(handler.ghost_merchantUnexpectedDecreases(), 0, "merchant debited elsewhere");
    }

    // ================================================================== (3) caps

    /// @notice Citizens' monthly purchase cap and holding cap (see the two checks below).
    function invariant_citizenCapsHold() public {
        _assertMonthlyPurchaseCapNeverExceeded();
        _assertHoldingCapExceededOnlyAfterCancellation();
    }

    /// @notice In the current KST month a citizen's purchases never exceed the monthly cap in
    /// force at their latest purchase; the token's monthly counters (purchases, gifts sent and
    /// received) match the handler's, which roll over by an independent calendar.
    function _assertMonthlyPurchaseCapNeverExceeded() internal {
        vm.warp(handler.currentTime());
        uint256 month = handler.kstMonth(block.timestamp);
        address[] memory citizens = handler.citizens();
        for (uint256 i = 0; i < citizens.length; ++i) {
            address c = citizens[i];
            (uint256 purchased,, uint256 sent, uint256 received, uint256 boughtFace,,) =
                token.accountOf(c);
            assertEq(purchased, handler.ghost_monthPurchased(c, month), "month purchased");
            assertLe(purchased, handler.ghost_purchaseCapAtLastSale(c, month), "purchase cap");
            assertEq(sent, handler.ghost_giftSent(c, month), "month gifts sent");
            assertEq(received, handler.ghost_giftReceived(c, month), "month gifts received");
            assertEq(boughtFace, handler.ghost_boughtFace(c), "refund basis");
        }
    }

    /// @notice Sales, gifts and cashback never take a citizen over the holding cap, but a
    /// cancellation restores the payer's money unchecked. So the exact invariant is: a citizen's
    /// balance is at most the cap in force at their latest sale, gift or cashback credit; if
    /// their latest credit was a cancellation restore, at most the larger of the cap then and
    /// the balance right after the restore (over the cap, it can then only fall until it is
    /// back under).
    function _assertHoldingCapExceededOnlyAfterCancellation() internal view {
        uint256 cap = token.rules().holdingCap;
        address[] memory citizens = handler.citizens();
        for (uint256 i = 0; i < citizens.length; ++i) {
            address c = citizens[i];
            uint256 balance = token.balanceOf(c);
            uint256 ceiling = handler.ghost_holdingCeiling(c);
            assertLe(balance, ceiling, "balance <= holding ceiling");
            if (balance > cap) {
                assertTrue(
                    handler.ghost_overCapByCancel(c) || ceiling > cap,
                    "over the cap only after a cancellation or a lowered cap"
                );
            }
        }
    }

    // ================================================================== (4) the program

    /// @notice The program's books: pockets + spent == granted <= budget, each index paid at
    /// most once, frozen from expiry on and closed at exactly budget - spent.
    function invariant_programBooksBalance() public view {
        _assertProgramPocketsAndSpentAddUpToGranted();
        _assertProgramPaysEachIndexAtMostOnce();
        _assertExpiredProgramFreezesAndClosesAtBudgetMinusSpent();
    }

    /// @notice Pockets plus spent plus what cancellations after expiry returned to the budget
    /// equal what was granted, which never exceeds the budget; every pocket matches the ghost.
    function _assertProgramPocketsAndSpentAddUpToGranted() internal view {
        IVoucherTypes.Program memory p = token.programOf(programId);
        assertEq(
            handler.sumPockets() + p.spent + handler.ghost_returnedAfterExpiry(),
            p.granted,
            "pockets + spent (+ returned after expiry) == granted"
        );
        assertLe(p.granted, p.budget, "granted <= budget");
        assertEq(p.granted, handler.ghost_granted(), "granted");
        assertEq(p.spent, handler.ghost_spent(), "spent");
        address[] memory holders = handler.holders();
        for (uint256 i = 0; i < holders.length; ++i) {
            assertEq(
                token.pocketOf(programId, holders[i]), handler.ghost_pocket(holders[i]), "pocket"
            );
        }
        if (handler.ghost_returnedAfterExpiry() == 0) {
            assertEq(handler.sumPockets() + p.spent, p.granted, "pockets + spent == granted");
        }
    }

    /// @notice Each leaf is paid at most once, whether pushed, pulled or both, and the claimed
    /// bitmap says exactly which.
    function _assertProgramPaysEachIndexAtMostOnce() internal view {
        uint256 granted = 0;
        for (uint256 i = 0; i < LEAVES; ++i) {
            IVoucherTypes.Grant memory g = handler.leafAt(i);
            uint256 count = handler.ghost_grantCount(i);
            assertLe(count, 1, "Granted at most once per index");
            assertEq(token.isClaimed(programId, g.index), count == 1, "claimed bit");
            if (count == 1) granted += g.amount;
        }
        assertEq(token.programOf(programId).granted, granted, "granted == paid leaves");
    }

    /// @notice From expiry on, pockets are frozen (no grant, claim or spend changes them; probes
    /// that try to spend revert), spent only falls (cancellations return money to the budget)
    /// and closing returns exactly budget - spent.
    function _assertExpiredProgramFreezesAndClosesAtBudgetMinusSpent() internal view {
        IVoucherTypes.Program memory p = token.programOf(programId);
        if (handler.currentTime() < p.expiry) {
            assertFalse(p.closed, "open before expiry");
            return;
        }
        assertTrue(handler.ghost_expirySnapshotTaken(), "expiry crossed by a warp");
        assertEq(handler.sumPockets(), handler.ghost_pocketsAtExpiry(), "pockets frozen");
        assertLe(p.spent, handler.ghost_spentAtExpiry(), "spent only falls after expiry");
        assertEq(p.closed, handler.ghost_closed(), "closed");
        if (p.closed) {
            assertEq(p.spent, handler.ghost_spentAtClose(), "spent frozen at close");
            assertEq(
                handler.ghost_closeReturned(), p.budget - p.spent, "returned == budget - spent"
            );
        }
    }

    // ================================================================== (5) rules and upgrades

    /// @notice The beacon points at the latest implementation, whose admin module the token
    /// uses; the rules, their version and the pending rules are exactly those the city set.
    /// (Each upgrade also compares every view before and after, in the handler.)
    function invariant_upgradeKeepsBalancesAndRules() public view {
        address implementation = beacon.implementation();
        assertEq(implementation, handler.ghost_implementation(), "implementation");
        assertEq(
            VoucherToken(address(token)).adminModule(),
            VoucherToken(implementation).adminModule(),
            "admin module"
        );
        assertEq(keccak256(abi.encode(token.rules())), handler.ghost_rulesHash(), "rules");
        assertEq(token.rulesVersion(), handler.ghost_rulesVersion(), "rules version");
        (IVoucherTypes.Rules memory pending, uint256 at) = token.pendingRules();
        assertEq(at, handler.ghost_pendingAt(), "pending at");
        if (at != 0) {
            assertEq(keccak256(abi.encode(pending)), handler.ghost_pendingHash(), "pending");
        }
    }

    // ================================================================== the handler itself

    /// @notice One fixed pseudo-random sequence reaches every action of the handler (so none of
    /// them is dead code that silently returns early) and keeps every invariant after each step.
    function test_handler_everyActionRunsInOneLongSequence() public {
        for (uint256 i = 0; i < 400; ++i) {
            this.stepAndCheck(uint256(keccak256(abi.encode("dongne", i))));
        }
        string[18] memory actions = [
            "issue",
            "payGeneral",
            "payBySig",
            "payWithPocket",
            "cancel",
            "gift",
            "redeem",
            "refund",
            "grant",
            "claim",
            "claimAndPay",
            "closeProgram",
            "probeDeadPocket",
            "probeForbiddenEdge",
            "warp",
            "proposeRules",
            "activateRules",
            "upgrade"
        ];
        for (uint256 i = 0; i < actions.length; ++i) {
            assertGe(handler.calls(bytes32(bytes(actions[i]))), 1, actions[i]);
        }
    }

    /// @dev One handler action chosen by `r`, then every invariant. External so that each
    /// step starts with fresh memory.
    function stepAndCheck(uint256 r) external {
        uint256 a = uint256(keccak256(abi.encode(r, 1)));
        uint256 b = uint256(keccak256(abi.encode(r, 2)));
        uint256 c = uint256(keccak256(abi.encode(r, 3)));
        uint256 k = r % 16;
        if (k == 0) handler.issue(a, b, c);
        else if (k == 1 && c % 3 != 0) handler.payGeneral(a, b, c);
        else if (k == 1) handler.payBySig(a, b, c);
        else if (k == 2) handler.payWithPocket(a, b, c);
        else if (k == 3) handler.cancel(a);
        else if (k == 4) handler.gift(a, b, c);
        else if (k == 5) handler.redeem(a, b);
        else if (k == 6) handler.refund(a);
        else if (k == 7) handler.grant(a, b);
        else if (k == 8) handler.claim(a, b % 2 == 0, c, a ^ b);
        else if (k == 9) handler.closeProgram();
        else if (k == 10) handler.probeDeadPocket(a, b, c);
        else if (k == 11) handler.probeForbiddenEdge(a, b, c);
        else if (k == 12) handler.warp(a, b);
        else if (k == 13) handler.proposeRules(a);
        else if (k == 14) handler.activateRules();
        else handler.upgrade(a);
        invariant_generalBalancesSumToTotalSupply();
        invariant_moneyMovesOnlyAlongAllowedEdges();
        invariant_citizenCapsHold();
        invariant_programBooksBalance();
        invariant_upgradeKeepsBalancesAndRules();
    }
}
