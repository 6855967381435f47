// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {VoucherToken} from "../src/VoucherToken.sol";
import {MerkleBuilder} from "./utils/MerkleBuilder.sol";
import {MoneyRulesFixture} from "./utils/MoneyRulesFixture.sol";

/// @notice Reward programs: bounded grants (budget, KST daily and monthly caps per person) paid
/// on attestations signed by a REWARDER key, once per attestation id.
contract VoucherRewardsTest is MoneyRulesFixture {
    using MerkleBuilder for MerkleBuilder.Tree;

    bytes32 internal constant REWARD_ROOT = keccak256("dongne.reward-program");
    uint256 internal constant DEC01_0000_KST = 1_796_050_800;

    uint256 internal rewarderKey;
    address internal rewarder;
    uint256 internal strangerKey;
    address internal walker;
    address internal other;
    address internal restaurant;
    address internal bar;
    uint256 internal programId;
    uint40 internal start;
    uint40 internal expiry;
    uint256 private _attestations;

    function setUp() public override {
        super.setUp();
        (rewarderKey, rewarder) = newKey();
        (strangerKey,) = newKey();
        bytes32 role = keccak256("REWARDER_ROLE");
        vm.prank(cityAdmin);
        VoucherToken(address(token)).grantRole(role, rewarder);
        walker = newCitizen();
        other = newCitizen();
        restaurant = newMerchant(KSIC_RESTAURANT, 0);
        bar = newMerchant(KSIC_BAR, 0);
        start = uint40(block.timestamp);
        expiry = uint40(DEC01_0000_KST + 40 days);
        // ₩100 a day (10,000 steps), ₩3,000 a month.
        programId = _create(_params(1_000_000, 100, 3000));
    }

    // ================================================================== helpers

    function _params(uint256 budget, uint256 daily, uint256 monthly)
        internal
        view
        returns (IVoucherTypes.RewardParams memory p)
    {
        p.budget = uint64(budget);
        p.start = start;
        p.expiry = expiry;
        p.dailyCap = uint48(daily);
        p.monthlyCap = uint48(monthly);
        p.categories = new uint24[](2);
        p.categories[0] = KSIC_RESTAURANT;
        p.categories[1] = KSIC_GROCERY;
        p.ref = "SH-walking";
    }

    function _create(IVoucherTypes.RewardParams memory p) internal returns (uint256 id) {
        vm.prank(manager);
        id = token.createRewardProgram(p);
    }

    function _reward(address recipient, uint256 amount)
        internal
        returns (IVoucherTypes.Reward memory r)
    {
        r.attestationId = keccak256(abi.encode("steps", ++_attestations));
        r.recipient = recipient;
        r.amount = amount;
    }

    function _sign(uint256 key, uint256 id, IVoucherTypes.Reward memory r)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 rs, bytes32 s) = vm.sign(key, token.rewardDigest(id, r));
        return abi.encodePacked(rs, s, v);
    }

    function _claim(uint256 id, IVoucherTypes.Reward memory r) internal returns (uint256 paid) {
        bytes memory sig = _sign(rewarderKey, id, r);
        vm.prank(other); // anyone submits
        paid = token.claimReward(id, r, sig);
    }

    function _claim(address recipient, uint256 amount) internal returns (uint256) {
        return _claim(programId, _reward(recipient, amount));
    }

    function _expectClaimRevert(uint256 id, IVoucherTypes.Reward memory r, bytes memory err)
        internal
    {
        bytes memory sig = _sign(rewarderKey, id, r);
        vm.expectRevert(err);
        token.claimReward(id, r, sig);
    }

    // ================================================================== programs

    function test_createRewardProgram_recordsAndEmits() public {
        IVoucherTypes.RewardParams memory p = _params(50_000, 100, 3000);
        uint256 next = token.programCount() + 1;
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.ProgramCreated(
            next, REWARD_ROOT, 50_000, start, expiry, false, p.categories, p.ref
        );
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.RewardProgramCreated(next, 100, 3000);
        uint256 id = _create(p);
        assertEq(id, next, "id");
        IVoucherTypes.Program memory program = token.programOf(id);
        assertEq(program.root, REWARD_ROOT, "marked as a reward program");
        assertEq(program.budget, 50_000, "budget");
        (uint256 daily, uint256 monthly) = token.rewardPolicyOf(id);
        assertEq(daily, 100, "daily");
        assertEq(monthly, 3000, "monthly");
        assertTrue(token.isProgramCategoryAllowed(id, KSIC_GROCERY), "category");
        assertFalse(token.isProgramCategoryAllowed(id, KSIC_BAR), "bar");
    }

    function test_RevertWhen_createRewardProgramInvalid() public {
        bytes32 role = keccak256("PROGRAM_MANAGER_ROLE");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, rewarder, role
            )
        );
        vm.prank(rewarder);
        token.createRewardProgram(_params(1, 1, 1));
        IVoucherTypes.RewardParams memory p = _params(0, 1, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("budget"))
        );
        _create(p);
        p = _params(1, 1, 1);
        p.start = p.expiry;
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("window"))
        );
        _create(p);
        p = _params(1, 1, 1);
        p.start = uint40(block.timestamp - 2);
        p.expiry = uint40(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("expiry"))
        );
        _create(p);
    }

    // ================================================================== claims

    function test_claimReward_paysThePocketOnARewardersSignature() public {
        IVoucherTypes.Reward memory r = _reward(walker, 100);
        bytes memory sig = _sign(rewarderKey, programId, r);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Rewarded(programId, walker, r.attestationId, 100);
        vm.prank(other);
        assertEq(token.claimReward(programId, r, sig), 100, "paid");
        assertEq(token.pocketOf(programId, walker), 100, "pocket");
        assertTrue(token.isRewardPaid(programId, r.attestationId), "id used");
        (uint256 today, uint256 month) = token.rewardsOf(programId, walker);
        assertEq(today, 100, "today");
        assertEq(month, 100, "this month");
        assertEq(token.programOf(programId).granted, 100, "granted");
        assertEq(token.totalSupply(), 0, "pockets are not supply until spent");
    }

    function test_RevertWhen_claimRewardNotARewardersSignature() public {
        IVoucherTypes.Reward memory r = _reward(walker, 100);
        bytes memory err = abi.encodeWithSelector(
            IVoucherBase.RewardInvalidSignature.selector, programId, r.attestationId
        );
        bytes memory sig = _sign(strangerKey, programId, r);
        vm.expectRevert(err);
        token.claimReward(programId, r, sig);
        // A rewarder's signature over other terms does not pay these.
        sig = _sign(rewarderKey, programId, r);
        r.amount = 101;
        vm.expectRevert(err);
        token.claimReward(programId, r, sig);
        r.amount = 100;
        r.recipient = other;
        vm.expectRevert(err);
        token.claimReward(programId, r, sig);
        r.recipient = walker;
        // Nor for another program.
        uint256 second = _create(_params(1000, 0, 0));
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.RewardInvalidSignature.selector, second, r.attestationId
            )
        );
        token.claimReward(second, r, sig);
        // Garbage is not a signature.
        vm.expectRevert(err);
        token.claimReward(programId, r, hex"1234");
        // A revoked rewarder's key no longer signs.
        vm.prank(cityAdmin);
        VoucherToken(address(token)).revokeRole(keccak256("REWARDER_ROLE"), rewarder);
        vm.expectRevert(err);
        token.claimReward(programId, r, sig);
    }

    function test_RevertWhen_claimRewardTwice() public {
        IVoucherTypes.Reward memory r = _reward(walker, 50);
        _claim(programId, r);
        _expectClaimRevert(
            programId,
            r,
            abi.encodeWithSelector(
                IVoucherBase.RewardAlreadyPaid.selector, programId, r.attestationId
            )
        );
        vm.warp(block.timestamp + 1 days); // caps are fresh: still once
        _expectClaimRevert(
            programId,
            r,
            abi.encodeWithSelector(
                IVoucherBase.RewardAlreadyPaid.selector, programId, r.attestationId
            )
        );
    }

    function test_claimReward_dailyCapCutsThenRefusesUntilKstMidnight() public {
        // 2026-11-02 10:00 KST; the next KST day starts at 15:00 UTC.
        uint256 nextDay = T0 + 14 hours;
        assertEq(_claim(walker, 60), 60, "first");
        assertEq(_claim(walker, 60), 40, "cut to the day's cap");
        IVoucherTypes.Reward memory r = _reward(walker, 1);
        _expectClaimRevert(
            programId,
            r,
            abi.encodeWithSelector(IVoucherBase.RewardCapReached.selector, programId, walker)
        );
        assertFalse(token.isRewardPaid(programId, r.attestationId), "a refused id stays unused");
        assertEq(_claim(other, 100), 100, "caps are per person");
        vm.warp(nextDay - 1);
        _expectClaimRevert(
            programId,
            r,
            abi.encodeWithSelector(IVoucherBase.RewardCapReached.selector, programId, walker)
        );
        vm.warp(nextDay);
        (uint256 today,) = token.rewardsOf(programId, walker);
        assertEq(today, 0, "a new KST day");
        assertEq(_claim(programId, r), 1, "the same attestation pays now");
        assertEq(token.pocketOf(programId, walker), 101, "pocket");
    }

    function test_claimReward_monthlyCap() public {
        vm.warp(DEC01_0000_KST);
        for (uint256 day = 0; day < 30; ++day) {
            assertEq(_claim(walker, 100), 100, "a day's steps");
            vm.warp(block.timestamp + 1 days);
        }
        (uint256 today, uint256 month) = token.rewardsOf(programId, walker);
        assertEq(today, 0, "day 31 is new");
        assertEq(month, 3000, "month");
        IVoucherTypes.Reward memory r = _reward(walker, 100);
        _expectClaimRevert(
            programId,
            r,
            abi.encodeWithSelector(IVoucherBase.RewardCapReached.selector, programId, walker)
        );
        vm.warp(block.timestamp + 1 days); // 1 January: a new month
        assertEq(_claim(programId, r), 100, "January");
        assertEq(token.pocketOf(programId, walker), 3100, "pocket");
    }

    function test_claimReward_budgetCutsThenRefuses() public {
        uint256 id = _create(_params(250, 100, 0));
        assertEq(_claim(id, _reward(walker, 100)), 100, "first");
        assertEq(_claim(id, _reward(other, 100)), 100, "second");
        address third = newCitizen();
        assertEq(_claim(id, _reward(third, 100)), 50, "what the budget leaves");
        address fourth = newCitizen();
        _expectClaimRevert(
            id,
            _reward(fourth, 1),
            abi.encodeWithSelector(IVoucherBase.RewardCapReached.selector, id, fourth)
        );
        assertEq(token.programOf(id).granted, 250, "granted == budget");
    }

    function test_RevertWhen_claimRewardOutsideTheWindow() public {
        IVoucherTypes.RewardParams memory p = _params(1000, 0, 0);
        p.start = uint40(block.timestamp + 1 days);
        uint256 id = _create(p);
        _expectClaimRevert(
            id,
            _reward(walker, 1),
            abi.encodeWithSelector(IVoucherBase.ProgramNotStarted.selector, id, p.start)
        );
        vm.warp(p.expiry);
        _expectClaimRevert(
            id,
            _reward(walker, 1),
            abi.encodeWithSelector(IVoucherBase.ProgramExpired.selector, id, p.expiry)
        );
    }

    function test_RevertWhen_claimRewardNotARewardProgram() public {
        IVoucherTypes.Grant[] memory g = new IVoucherTypes.Grant[](1);
        g[0] = MerkleBuilder.grant(0, walker, 1000);
        IVoucherTypes.ProgramParams memory p;
        p.root = MerkleBuilder.build(g).root();
        p.budget = 1000;
        p.start = start;
        p.expiry = expiry;
        vm.prank(manager);
        uint256 merkleId = token.createProgram(p);
        _expectClaimRevert(
            merkleId,
            _reward(walker, 1),
            abi.encodeWithSelector(IVoucherBase.RewardNotRewardProgram.selector, merkleId)
        );
        IVoucherTypes.Reward[] memory batch = new IVoucherTypes.Reward[](1);
        batch[0] = _reward(walker, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.RewardNotRewardProgram.selector, merkleId)
        );
        vm.prank(rewarder);
        token.rewardBatch(merkleId, batch);
        _expectClaimRevert(
            99, _reward(walker, 1), abi.encodeWithSelector(IVoucherBase.ProgramUnknown.selector, 99)
        );
    }

    function test_RevertWhen_merkleProofForARewardProgram() public {
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        vm.prank(walker);
        token.claim(programId, 0, 100, new bytes32[](0));
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = REWARD_ROOT;
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        vm.prank(walker);
        token.claim(programId, 0, 100, proof);
        IVoucherTypes.Grant[] memory g = new IVoucherTypes.Grant[](1);
        g[0] = MerkleBuilder.grant(0, walker, 100);
        bool[] memory flags = new bool[](1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        token.grantBatch(programId, g, proof, flags);
    }

    function testFuzz_merkleProofNeverMatchesARewardProgram(
        uint256 index,
        uint256 amount,
        bytes32[] memory proof
    ) public {
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        vm.prank(walker);
        token.claim(programId, index, amount, proof);
    }

    // ================================================================== batches

    function test_rewardBatch_skipsUsedIdsAndCuts() public {
        IVoucherTypes.Reward memory used = _reward(walker, 30);
        _claim(programId, used);
        IVoucherTypes.Reward[] memory batch = new IVoucherTypes.Reward[](5);
        batch[0] = used; // skipped
        batch[1] = _reward(walker, 50);
        batch[2] = _reward(walker, 50); // cut to 20
        batch[3] = batch[1]; // repeated in the batch: skipped
        batch[4] = _reward(other, 70);
        vm.prank(rewarder);
        uint256 paidCount = token.rewardBatch(programId, batch);
        assertEq(paidCount, 3, "paid");
        assertEq(token.pocketOf(programId, walker), 100, "walker at the day's cap");
        assertEq(token.pocketOf(programId, other), 70, "other");
        // Cut to 0 still uses the id (the batch said so).
        IVoucherTypes.Reward[] memory late = new IVoucherTypes.Reward[](1);
        late[0] = _reward(walker, 10);
        vm.prank(rewarder);
        assertEq(token.rewardBatch(programId, late), 0, "nothing left today");
        assertTrue(token.isRewardPaid(programId, late[0].attestationId), "id used");
    }

    function test_RevertWhen_rewardBatchByNonRewarderOrEmpty() public {
        IVoucherTypes.Reward[] memory batch = new IVoucherTypes.Reward[](1);
        batch[0] = _reward(walker, 10);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                manager,
                keccak256("REWARDER_ROLE")
            )
        );
        vm.prank(manager);
        token.rewardBatch(programId, batch);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramEmptyBatch.selector, programId));
        vm.prank(rewarder);
        token.rewardBatch(programId, new IVoucherTypes.Reward[](0));
    }

    function test_RevertWhen_rewardsWhilePaused() public {
        vm.prank(cityAdmin);
        VoucherToken(address(token)).grantRole(keccak256("PAUSER_ROLE"), cityAdmin);
        vm.prank(cityAdmin);
        token.setPaused(true);
        _expectClaimRevert(
            programId,
            _reward(walker, 1),
            abi.encodeWithSelector(IVoucherBase.VoucherPaused.selector)
        );
        IVoucherTypes.Reward[] memory batch = new IVoucherTypes.Reward[](1);
        batch[0] = _reward(walker, 10);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        vm.prank(rewarder);
        token.rewardBatch(programId, batch);
    }

    // ================================================================== pockets and closing

    function test_rewardPocket_spendableAtAllowedCategories() public {
        _claim(walker, 100);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(walker, restaurant, 80, freshId(), ids1(programId), address(0));
        assertEq(rec.programAmounts[0], 80, "from the reward pocket");
        assertEq(token.balanceOf(restaurant), 80, "merchant receives general balance");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.ProgramCategoryNotAllowed.selector, programId, KSIC_BAR
            )
        );
        vm.prank(walker);
        token.pay(bar, 20, freshId(), ids1(programId));
    }

    function test_closeProgram_rewardProgramInO1() public {
        _claim(walker, 100);
        _claim(other, 100);
        payRecord(walker, restaurant, 70, freshId(), ids1(programId), address(0));
        vm.warp(expiry);
        vm.prank(manager);
        uint256 returned = token.closeProgram(programId);
        assertEq(returned, 1_000_000 - 70, "budget - spent");
        assertTrue(token.programOf(programId).closed, "closed");
        _expectClaimRevert(
            programId,
            _reward(walker, 1),
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClosed.selector, programId)
        );
    }

    function test_rewardDigest_boundToItsCity() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        vm.prank(cityAdmin);
        VoucherToken(address(seongnam)).grantRole(keccak256("REWARDER_ROLE"), rewarder);
        vm.prank(manager);
        uint256 id = seongnam.createRewardProgram(_params(1000, 0, 0));
        assertEq(id, programId, "same program id in both cities");
        IVoucherTypes.Reward memory r = _reward(walker, 10);
        assertTrue(
            seongnam.rewardDigest(id, r) != token.rewardDigest(programId, r), "different domains"
        );
        bytes memory sig = _sign(rewarderKey, programId, r); // signed for Siheung
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.RewardInvalidSignature.selector, id, r.attestationId
            )
        );
        seongnam.claimReward(id, r, sig);
    }

    // ================================================================== fuzz

    /// @notice Whatever is asked and whenever, a person is never paid over the day's or the
    /// month's cap and the program never over its budget.
    function testFuzz_rewardsStayWithinCapsAndBudget(uint256[12] memory amounts, uint256 seed)
        public
    {
        uint256 id = _create(_params(2000, 100, 300));
        address[2] memory people = [walker, other];
        uint256 granted;
        for (uint256 i = 0; i < amounts.length; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            vm.warp(block.timestamp + seed % 30 hours);
            address who = people[seed % 2];
            (uint256 todayBefore, uint256 monthBefore) = token.rewardsOf(id, who);
            uint256 amount = bound(amounts[i], 1, 250);
            uint256 room = 100 - todayBefore;
            if (300 - monthBefore < room) room = 300 - monthBefore;
            if (2000 - granted < room) room = 2000 - granted;
            uint256 expected = amount < room ? amount : room;
            IVoucherTypes.Reward memory r = _reward(who, amount);
            if (expected == 0) {
                _expectClaimRevert(
                    id, r, abi.encodeWithSelector(IVoucherBase.RewardCapReached.selector, id, who)
                );
                continue;
            }
            assertEq(_claim(id, r), expected, "paid what the caps leave");
            granted += expected;
            (uint256 today, uint256 month) = token.rewardsOf(id, who);
            assertLe(today, 100, "daily cap");
            assertLe(month, 300, "monthly cap");
        }
        assertEq(token.programOf(id).granted, granted, "granted");
        assertEq(
            token.pocketOf(id, walker) + token.pocketOf(id, other), granted, "pockets == granted"
        );
    }
}
