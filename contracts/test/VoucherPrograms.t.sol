// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {VoucherToken} from "../src/VoucherToken.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";
import {MerkleBuilder} from "./utils/MerkleBuilder.sol";
import {Vm} from "./utils/Vm.sol";
import {PaidLogs} from "./utils/PaidLogs.sol";

/// @notice Policy programs: committing a list, pushing and pulling grants, spending pockets,
/// cancelling program payments and closing programs.
contract VoucherProgramsTest is DongneFixture {
    using MerkleBuilder for MerkleBuilder.Tree;

    uint256 internal constant LEAVES = 8;
    uint256 internal constant BUDGET = 360_000; // 10k + 20k + ... + 80k
    uint40 internal start;
    uint40 internal expiry;

    address internal alice;
    address internal bob;
    address internal carol;
    address internal dave;
    address internal restaurant; // tier 0, 10% cashback
    address internal grocery; // tier 1, 7% cashback
    address internal bar; // a category the program does not allow
    address internal bigMart; // tier 3: over the revenue cap

    IVoucherTypes.Grant[] internal list;
    uint256 internal programId;

    function setUp() public override {
        super.setUp();
        start = uint40(T0 + 1 days);
        expiry = uint40(T0 + 20 days);
        alice = newCitizen();
        bob = newCitizen();
        carol = newCitizen();
        dave = newCitizen();
        restaurant = newMerchant(KSIC_RESTAURANT, 0);
        grocery = newMerchant(KSIC_GROCERY, 1);
        bar = newMerchant(KSIC_BAR, 0);
        bigMart = newMerchant(KSIC_GROCERY, 3);
        address[4] memory people = [alice, bob, carol, dave];
        for (uint256 i = 0; i < LEAVES; ++i) {
            list.push(MerkleBuilder.grant(i, people[i % 4], (i + 1) * 10_000));
        }
        programId = _create(_params(_tree().root(), BUDGET, true));
    }

    // ================================================================== helpers

    function _grants() internal view returns (IVoucherTypes.Grant[] memory) {
        return list;
    }

    function _tree() internal view returns (MerkleBuilder.Tree memory) {
        return MerkleBuilder.build(list);
    }

    function _categories() internal pure returns (uint24[] memory c) {
        c = new uint24[](2);
        c[0] = KSIC_RESTAURANT;
        c[1] = KSIC_GROCERY;
    }

    function _params(bytes32 root, uint256 budget, bool waived)
        internal
        view
        returns (IVoucherTypes.ProgramParams memory p)
    {
        p.root = root;
        p.budget = uint64(budget);
        p.start = start;
        p.expiry = expiry;
        p.revenueCapWaived = waived;
        p.categories = _categories();
        p.ref = "SH-2026-relief";
    }

    function _create(IVoucherTypes.ProgramParams memory p) internal returns (uint256 id) {
        vm.prank(manager);
        id = token.createProgram(p);
    }

    /// @dev A one-leaf program for `holder` (its root is the leaf itself).
    function _singleProgram(address holder, uint256 amount, bool waived)
        internal
        returns (uint256 id)
    {
        IVoucherTypes.Grant[] memory g = new IVoucherTypes.Grant[](1);
        g[0] = MerkleBuilder.grant(0, holder, amount);
        id = _create(_params(MerkleBuilder.build(g).root(), amount, waived));
        vm.prank(holder);
        token.claim(id, 0, amount, new bytes32[](0));
    }

    function _push(uint256 id, MerkleBuilder.Tree memory t, uint256 mask)
        internal
        returns (uint256 paidCount)
    {
        if (mask == 0) return 0; // nothing to send: an empty batch reverts (ProgramEmptyBatch)
        MerkleBuilder.MultiProof memory m = t.getMultiProofOfMask(mask);
        paidCount = token.grantBatch(id, m.leaves, m.proof, m.proofFlags);
    }

    function _claim(uint256 id, MerkleBuilder.Tree memory t, uint256 valueIndex) internal {
        IVoucherTypes.Grant memory g = t.values[valueIndex];
        bytes32[] memory proof = t.getProof(valueIndex);
        vm.prank(g.recipient);
        token.claim(id, g.index, g.amount, proof);
    }

    /// @dev A sale without discount, so any face value passes the discount bounds.
    function _issueAtPar(address buyer, uint256 face) internal {
        vm.prank(issuer);
        token.issue(buyer, face, face);
    }

    function _ids(uint256 a) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = a;
    }

    function _ids(uint256 a, uint256 b) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
    }

    /// @dev Pays and returns the record the merchant needs to cancel, decoded from `Paid`.
    function _pay(address payer, address merchant, uint256 amount, uint256[] memory ids)
        internal
        returns (IVoucherTypes.PaymentRecord memory rec)
    {
        bytes32 paymentId = keccak256(abi.encode(payer, merchant, amount, ids));
        vm.recordLogs();
        vm.prank(payer);
        uint256 seq = token.pay(merchant, amount, paymentId, ids);
        rec = _lastPaid();
        assertEq(rec.seq, seq, "seq returned == seq logged");
    }

    function _lastPaid() internal returns (IVoucherTypes.PaymentRecord memory rec) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = logs.length; i > 0; --i) {
            Vm.Log memory log = logs[i - 1];
            if (log.emitter != address(token) || !PaidLogs.isPaid(log)) {
                continue;
            }
            PaidLogs.read(log, rec);
            return rec;
        }
        revert AssertionFailed("no Paid event");
    }

    function _program(uint256 id) internal view returns (IVoucherTypes.Program memory) {
        return token.programOf(id);
    }

    function _sumPockets(uint256 id) internal view returns (uint256 sum) {
        address[4] memory people = [alice, bob, carol, dave];
        for (uint256 i = 0; i < 4; ++i) {
            sum += token.pocketOf(id, people[i]);
        }
    }

    function _close(uint256 id) internal returns (uint256 returned) {
        vm.prank(manager);
        returned = token.closeProgram(id);
    }

    // ================================================================== MerkleBuilder

    /// @dev Expected values printed by @openzeppelin/merkle-tree 1.0.8:
    /// StandardMerkleTree.of([[i, 0x1000 + i, (i + 1) * 1000] for i < 5],
    /// ["uint256", "address", "uint256"]), getProof(2), getMultiProof([0, 3, 4]).
    function test_merkleBuilder_matchesOpenZeppelinJs() public pure {
        IVoucherTypes.Grant[] memory g = new IVoucherTypes.Grant[](5);
        for (uint256 i = 0; i < 5; ++i) {
            g[i] = MerkleBuilder.grant(i, address(uint160(0x1000 + i)), (i + 1) * 1000);
        }
        MerkleBuilder.Tree memory t = MerkleBuilder.build(g);
        assertEq(
            t.root(), 0xb9c324f376b54150438566d648d78e727740c96fdaeed18bc7c363e137fe8891, "root"
        );
        bytes32[] memory proof = t.getProof(2);
        assertEq(proof.length, 2, "proof length");
        assertEq(
            proof[0], 0x75ffc3c83e6fcb35798cc775dc2a4c0514280da5cf16740663a2efc770956e5b, "proof0"
        );
        assertEq(
            proof[1], 0xfd602164edb441fa37297543e4b28dfc6927829642452df2109a473230b4f347, "proof1"
        );
        uint256[] memory picked = new uint256[](3);
        picked[0] = 0;
        picked[1] = 3;
        picked[2] = 4;
        MerkleBuilder.MultiProof memory m = t.getMultiProof(picked);
        assertEq(m.leaves.length, 3, "leaves");
        assertEq(m.leaves[0].index, 3, "leaf order 0");
        assertEq(m.leaves[1].index, 4, "leaf order 1");
        assertEq(m.leaves[2].index, 0, "leaf order 2");
        assertEq(m.proof.length, 2, "multiproof length");
        assertEq(
            m.proof[0], 0x34a3ad446f8c185315b261dbbed50bcd44329994f4ff5f262e3371271cc166ea, "mp0"
        );
        assertEq(
            m.proof[1], 0x8a4dcc3ad55d556c5d6a36babcc2e042fee10814187784c84093335d66af72ce, "mp1"
        );
        assertEq(m.proofFlags.length, 4, "flags length");
        assertTrue(m.proofFlags[0] && !m.proofFlags[1] && !m.proofFlags[2], "flags 0-2");
        assertTrue(m.proofFlags[3], "flag 3");
    }

    function testFuzz_merkleBuilder_proofsVerifyWithOpenZeppelin(uint256 n, uint256 mask, uint256 v)
        public
        pure
    {
        n = bound(n, 1, 20);
        mask = bound(mask, 0, (1 << n) - 1);
        IVoucherTypes.Grant[] memory g = new IVoucherTypes.Grant[](n);
        for (uint256 i = 0; i < n; ++i) {
            g[i] = MerkleBuilder.grant(i * 7 + 3, address(uint160(0xBEEF + i)), i * 1000 + 1);
        }
        MerkleBuilder.Tree memory t = MerkleBuilder.build(g);
        v = bound(v, 0, n - 1);
        assertTrue(
            MerkleProof.verify(t.getProof(v), t.root(), MerkleBuilder.leafHash(g[v])), "proof"
        );
        MerkleBuilder.MultiProof memory m = t.getMultiProofOfMask(mask);
        assertTrue(
            MerkleProof.multiProofVerify(
                m.proof, m.proofFlags, t.root(), MerkleBuilder.leafHashes(m.leaves)
            ),
            "multiproof"
        );
    }

    // ================================================================== createProgram

    function test_createProgram_storesProgram() public view {
        IVoucherTypes.Program memory p = _program(programId);
        assertEq(programId, 1, "first id");
        assertEq(token.programCount(), 1, "count");
        assertEq(p.root, _tree().root(), "root");
        assertEq(p.budget, BUDGET, "budget");
        assertEq(p.granted, 0, "granted");
        assertEq(p.spent, 0, "spent");
        assertEq(p.start, start, "start");
        assertEq(p.expiry, expiry, "expiry");
        assertTrue(p.revenueCapWaived, "waived");
        assertFalse(p.anyCategory, "categories listed");
        assertFalse(p.closed, "open");
        assertTrue(token.isProgramCategoryAllowed(programId, KSIC_RESTAURANT), "restaurant");
        assertTrue(token.isProgramCategoryAllowed(programId, KSIC_GROCERY), "grocery");
        assertFalse(token.isProgramCategoryAllowed(programId, KSIC_BAR), "bar");
    }

    function test_createProgram_emitsProgramCreated() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 1000, false);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.ProgramCreated(
            2, p.root, p.budget, p.start, p.expiry, false, p.categories, p.ref
        );
        assertEq(_create(p), 2, "second id");
    }

    function test_createProgram_emptyCategoriesAllowEvery() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 1000, false);
        p.categories = new uint24[](0);
        uint256 id = _create(p);
        assertTrue(_program(id).anyCategory, "anyCategory");
        assertTrue(token.isProgramCategoryAllowed(id, KSIC_BAR), "bar");
        assertTrue(token.isProgramCategoryAllowed(id, 0), "any code");
    }

    function test_createProgram_startInThePastAllowed() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 1000, false);
        p.start = 0;
        uint256 id = _create(p);
        assertEq(_program(id).start, 0, "start");
    }

    function test_RevertWhen_createProgramCallerNotManager() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 1000, false);
        bytes32 role = VoucherToken(address(token)).PROGRAM_MANAGER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, role
            )
        );
        vm.prank(cityAdmin);
        token.createProgram(p);
    }

    function test_RevertWhen_createProgramRootZero() public {
        IVoucherTypes.ProgramParams memory p = _params(bytes32(0), 1000, false);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("root"))
        );
        _create(p);
    }

    /// @notice Replays a review finding: a policy program could be created with the root that
    /// marks reward programs, and so be treated as one (rewarded by attestation, no Merkle
    /// list). That root is now refused.
    function test_RevertWhen_createProgramRootIsTheRewardMarker() public {
        IVoucherTypes.ProgramParams memory p =
            _params(keccak256("dongne.reward-program"), 1000, false);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("root"))
        );
        _create(p);
    }

    function test_RevertWhen_createProgramBudgetZero() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 0, false);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("budget"))
        );
        _create(p);
    }

    function test_RevertWhen_createProgramStartNotBeforeExpiry() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 1000, false);
        p.start = p.expiry;
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("window"))
        );
        _create(p);
    }

    function test_RevertWhen_createProgramExpiryNotInFuture() public {
        IVoucherTypes.ProgramParams memory p = _params(keccak256("root"), 1000, false);
        p.start = 0;
        p.expiry = uint40(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, bytes32("expiry"))
        );
        _create(p);
    }

    function testFuzz_createProgram_validatesParams(
        bytes32 root,
        uint64 budget,
        uint40 start_,
        uint40 expiry_,
        bool waived,
        uint24 category
    ) public {
        IVoucherTypes.ProgramParams memory p;
        p.root = root;
        p.budget = budget;
        p.start = start_;
        p.expiry = expiry_;
        p.revenueCapWaived = waived;
        p.categories = new uint24[](1);
        p.categories[0] = category;
        bytes32 field;
        // The reward programs' marker root is refused too (the fuzzer finds it in the bytecode).
        if (root == bytes32(0) || root == keccak256("dongne.reward-program")) field = "root";
        else if (budget == 0) field = "budget";
        else if (start_ >= expiry_) field = "window";
        else if (expiry_ <= block.timestamp) field = "expiry";
        if (field != bytes32(0)) {
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherBase.ProgramInvalidParams.selector, field)
            );
            _create(p);
            return;
        }
        uint256 id = _create(p);
        IVoucherTypes.Program memory stored = _program(id);
        assertEq(id, token.programCount(), "id");
        assertEq(stored.root, root, "root");
        assertEq(stored.budget, budget, "budget");
        assertEq(stored.start, start_, "start");
        assertEq(stored.expiry, expiry_, "expiry");
        assertEq(stored.revenueCapWaived, waived, "waived");
        assertTrue(token.isProgramCategoryAllowed(id, category), "category");
    }

    // ================================================================== grantBatch

    function test_grantBatch_pushesSubset() public {
        MerkleBuilder.Tree memory t = _tree();
        // indices 1 (bob 20k), 2 (carol 30k), 6 (carol 70k)
        uint256 mask = (1 << 1) | (1 << 2) | (1 << 6);
        vm.recordLogs();
        assertEq(_push(programId, t, mask), 3, "paidCount");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 grantedEvents = 0;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == IVoucherBase.Granted.selector) ++grantedEvents;
        }
        assertEq(grantedEvents, 3, "Granted events");
        assertEq(token.pocketOf(programId, bob), 20_000, "bob");
        assertEq(token.pocketOf(programId, carol), 100_000, "carol");
        assertEq(token.pocketOf(programId, alice), 0, "alice");
        assertEq(token.pocketOf(programId, dave), 0, "dave");
        assertEq(_program(programId).granted, 120_000, "granted");
        for (uint256 i = 0; i < LEAVES; ++i) {
            assertEq(token.isClaimed(programId, i), mask & (1 << i) != 0, "claimed bit");
        }
        // Pockets are not general balance: no supply yet.
        assertEq(token.totalSupply(), 0, "supply");
        assertEq(token.balanceOf(bob), 0, "bob general");
    }

    function test_grantBatch_emitsGranted() public {
        MerkleBuilder.Tree memory t = _tree();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Granted(programId, dave, 3, 40_000);
        _push(programId, t, 1 << 3);
    }

    function test_grantBatch_pushesWholeList() public {
        assertEq(_push(programId, _tree(), (1 << LEAVES) - 1), LEAVES, "paidCount");
        assertEq(token.pocketOf(programId, alice), 60_000, "alice");
        assertEq(token.pocketOf(programId, bob), 80_000, "bob");
        assertEq(token.pocketOf(programId, carol), 100_000, "carol");
        assertEq(token.pocketOf(programId, dave), 120_000, "dave");
        assertEq(_program(programId).granted, BUDGET, "granted == budget");
    }

    function test_grantBatch_resentBatchPaysNobodyTwice() public {
        MerkleBuilder.Tree memory t = _tree();
        uint256 mask = 0x5A;
        uint256 first = _push(programId, t, mask);
        uint256 granted = _program(programId).granted;
        uint256 pockets = _sumPockets(programId);
        uint256 second = _push(programId, t, mask);
        assertEq(first, 4, "first paid");
        assertEq(second, 0, "second paid");
        assertEq(_program(programId).granted, granted, "granted unchanged");
        assertEq(_sumPockets(programId), pockets, "pockets unchanged");
    }

    function test_grantBatch_overlappingBatchPaysOnlyNew() public {
        MerkleBuilder.Tree memory t = _tree();
        _push(programId, t, 0x0F);
        assertEq(_push(programId, t, 0x3C), 2, "only 4 and 5 are new");
        assertEq(_program(programId).granted, 10_000 + 20_000 + 30_000 + 40_000 + 50_000 + 60_000);
        assertEq(token.pocketOf(programId, alice), 60_000, "alice 0 + 4");
        assertEq(token.pocketOf(programId, bob), 80_000, "bob 1 + 5");
    }

    function test_grantBatch_skipsIndexAlreadyPulled() public {
        MerkleBuilder.Tree memory t = _tree();
        _claim(programId, t, 4); // alice pulls 50k
        assertEq(_push(programId, t, (1 << LEAVES) - 1), LEAVES - 1, "index 4 skipped");
        assertEq(token.pocketOf(programId, alice), 60_000, "alice once");
        assertEq(_program(programId).granted, BUDGET, "granted");
    }

    function test_RevertWhen_grantBatchEmptySelection() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramEmptyBatch.selector, programId));
        token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
        assertEq(_program(programId).granted, 0, "granted");
    }

    function test_grantBatch_beforeStartWaitsInPocket() public {
        assertTrue(block.timestamp < start, "before start");
        _push(programId, _tree(), 1);
        assertEq(token.pocketOf(programId, alice), 10_000, "pocket");
    }

    function test_grantBatch_callableByAnyone() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0xF0);
        vm.prank(address(0xBAD)); // not registered, holds no role
        assertEq(token.grantBatch(programId, m.leaves, m.proof, m.proofFlags), 4, "paidCount");
        assertEq(token.pocketOf(programId, dave), 80_000, "dave");
    }

    function test_RevertWhen_grantBatchProofInvalid() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0x03);
        m.leaves[0].amount += 1;
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
    }

    function test_RevertWhen_grantBatchLeafNotInList() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0x01);
        m.leaves[0].recipient = bob;
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
    }

    function test_RevertWhen_grantBatchOverBudget() public {
        uint256 id = _create(_params(_tree().root(), 100_000, false));
        MerkleBuilder.Tree memory t = _tree();
        _push(id, t, 0x0F); // 100k: exactly the budget
        MerkleBuilder.MultiProof memory m = t.getMultiProofOfMask(0x10);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.ProgramBudgetExceeded.selector, id, 150_000, 100_000
            )
        );
        token.grantBatch(id, m.leaves, m.proof, m.proofFlags);
    }

    function test_RevertWhen_grantBatchAfterExpiry() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0x01);
        vm.warp(expiry);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramExpired.selector, programId, expiry)
        );
        token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
    }

    function test_RevertWhen_grantBatchProgramClosed() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0x01);
        vm.warp(expiry);
        _close(programId);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClosed.selector, programId)
        );
        token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
    }

    function test_RevertWhen_grantBatchProgramUnknown() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0x01);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramUnknown.selector, 7));
        token.grantBatch(7, m.leaves, m.proof, m.proofFlags);
    }

    function test_RevertWhen_grantBatchPaused() public {
        MerkleBuilder.MultiProof memory m = _tree().getMultiProofOfMask(0x01);
        vm.prank(pauser);
        token.setPaused(true);
        vm.expectRevert(IVoucherBase.VoucherPaused.selector);
        token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
    }

    function testFuzz_grantBatch_paysEveryIndexOnce(uint256 maskA, uint256 maskB, bool pullFirst)
        public
    {
        uint256 all = (1 << LEAVES) - 1;
        maskA = bound(maskA, 0, all);
        maskB = bound(maskB, 0, all);
        MerkleBuilder.Tree memory t = _tree();
        uint256 pulled = 0;
        if (pullFirst) {
            _claim(programId, t, 7);
            pulled = 1 << 7;
        }
        uint256 paidA = _push(programId, t, maskA);
        uint256 paidB = _push(programId, t, maskB);
        uint256 union = maskA | maskB | pulled;
        uint256 expectedGranted = 0;
        uint256 countA = 0;
        uint256 countB = 0;
        for (uint256 i = 0; i < LEAVES; ++i) {
            uint256 bit = 1 << i;
            if (union & bit != 0) expectedGranted += list[i].amount;
            if (maskA & bit != 0 && pulled & bit == 0) ++countA;
            if (maskB & bit != 0 && (maskA | pulled) & bit == 0) ++countB;
            assertEq(token.isClaimed(programId, i), union & bit != 0, "claimed bit");
        }
        assertEq(paidA, countA, "paid A");
        assertEq(paidB, countB, "paid B");
        assertEq(_program(programId).granted, expectedGranted, "granted");
        assertEq(_sumPockets(programId), expectedGranted, "pockets");
    }

    // ================================================================== claim

    function test_claim_creditsOwnPocket() public {
        MerkleBuilder.Tree memory t = _tree();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Granted(programId, carol, 2, 30_000);
        _claim(programId, t, 2);
        assertEq(token.pocketOf(programId, carol), 30_000, "pocket");
        assertTrue(token.isClaimed(programId, 2), "claimed");
        assertEq(_program(programId).granted, 30_000, "granted");
    }

    function test_RevertWhen_claimTwice() public {
        MerkleBuilder.Tree memory t = _tree();
        _claim(programId, t, 2);
        bytes32[] memory proof = t.getProof(2);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClaimed.selector, programId, 2)
        );
        vm.prank(carol);
        token.claim(programId, 2, 30_000, proof);
    }

    function test_RevertWhen_claimAfterPush() public {
        MerkleBuilder.Tree memory t = _tree();
        _push(programId, t, 1 << 5);
        bytes32[] memory proof = t.getProof(5);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClaimed.selector, programId, 5)
        );
        vm.prank(bob);
        token.claim(programId, 5, 60_000, proof);
    }

    function test_RevertWhen_claimingSomeoneElsesLeaf() public {
        bytes32[] memory proof = _tree().getProof(1); // bob's leaf
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        vm.prank(alice);
        token.claim(programId, 1, 20_000, proof);
    }

    function test_RevertWhen_claimAmountInflated() public {
        bytes32[] memory proof = _tree().getProof(1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, programId)
        );
        vm.prank(bob);
        token.claim(programId, 1, 20_001, proof);
    }

    function test_RevertWhen_claimAfterExpiry() public {
        bytes32[] memory proof = _tree().getProof(1);
        vm.warp(expiry);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramExpired.selector, programId, expiry)
        );
        vm.prank(bob);
        token.claim(programId, 1, 20_000, proof);
    }

    function test_RevertWhen_claimOverBudget() public {
        uint256 id = _create(_params(_tree().root(), 15_000, false));
        MerkleBuilder.Tree memory t = _tree();
        _claim(id, t, 0); // 10k
        bytes32[] memory proof = t.getProof(1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramBudgetExceeded.selector, id, 30_000, 15_000)
        );
        vm.prank(bob);
        token.claim(id, 1, 20_000, proof);
    }

    function testFuzz_claim_anyLeafByItsRecipientOnce(uint256 v, uint256 index, uint256 amount)
        public
    {
        // A fresh list whose leaf v has a fuzzed index and amount.
        v = bound(v, 0, LEAVES - 1);
        amount = bound(amount, 1, 1_000_000);
        IVoucherTypes.Grant[] memory g = _grants();
        g[v].index = index;
        g[v].amount = amount;
        MerkleBuilder.Tree memory t = MerkleBuilder.build(g);
        uint256 id = _create(_params(t.root(), 5_000_000, false));
        bytes32[] memory proof = t.getProof(v);
        address recipient = g[v].recipient;
        address other = address(0xBAD); // proves nothing: the leaf is keyed by the caller
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramInvalidProof.selector, id));
        vm.prank(other);
        token.claim(id, index, amount, proof);
        vm.prank(recipient);
        token.claim(id, index, amount, proof);
        assertEq(token.pocketOf(id, recipient), amount, "pocket");
        assertTrue(token.isClaimed(id, index), "claimed");
        assertEq(_program(id).granted, amount, "granted");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClaimed.selector, id, index)
        );
        vm.prank(recipient);
        token.claim(id, index, amount, proof);
    }

    // ================================================================== claimAndPay

    function test_claimAndPay_pullsAndPaysInOneCall() public {
        MerkleBuilder.Tree memory t = _tree();
        bytes32[] memory proof = t.getProof(6); // carol 70k
        vm.warp(start);
        vm.prank(carol);
        uint256 seq = token.claimAndPay(
            programId, 6, 70_000, proof, grocery, 25_000, "order-1", _ids(programId)
        );
        assertEq(seq, 0, "first payment");
        assertEq(token.pocketOf(programId, carol), 45_000, "pocket left");
        assertEq(token.balanceOf(grocery), 25_000, "merchant");
        assertEq(token.totalSupply(), 25_000, "supply");
        IVoucherTypes.Program memory p = _program(programId);
        assertEq(p.granted, 70_000, "granted");
        assertEq(p.spent, 25_000, "spent");
        assertTrue(token.isClaimed(programId, 6), "claimed");
    }

    function test_RevertWhen_claimAndPayBeforeStart() public {
        bytes32[] memory proof = _tree().getProof(6);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramNotStarted.selector, programId, start)
        );
        vm.prank(carol);
        token.claimAndPay(programId, 6, 70_000, proof, grocery, 25_000, "order-1", _ids(programId));
        assertFalse(token.isClaimed(programId, 6), "claim rolled back");
    }

    // ================================================================== pay from pockets

    function test_pay_spendsPocketsInNamedOrderThenGeneral() public {
        _claim(programId, _tree(), 0); // alice 10k in program 1
        uint256 second = _singleProgram(alice, 5000, false);
        buy(alice, 100_000);
        vm.warp(start);
        uint256 supply = token.totalSupply();
        IVoucherTypes.PaymentRecord memory rec =
            _pay(alice, restaurant, 25_000, _ids(programId, second));
        assertEq(rec.programAmounts[0], 10_000, "program 1 first");
        assertEq(rec.programAmounts[1], 5000, "program 2 next");
        assertEq(rec.fromGeneral, 10_000, "rest from general");
        assertEq(rec.cashback, 1000, "10% cashback on general part");
        assertEq(token.pocketOf(programId, alice), 0, "pocket 1");
        assertEq(token.pocketOf(second, alice), 0, "pocket 2");
        assertEq(token.balanceOf(alice), 91_000, "general");
        assertEq(token.balanceOf(restaurant), 25_000, "merchant gets general balance");
        assertEq(token.totalSupply(), supply + 15_000 + 1000, "pocket part and cashback minted");
        assertEq(_program(programId).spent, 10_000, "spent 1");
        assertEq(_program(second).spent, 5000, "spent 2");
    }

    function test_pay_namedOrderDecidesWhichPocketPays() public {
        _claim(programId, _tree(), 0); // alice 10k
        uint256 second = _singleProgram(alice, 5000, false);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec =
            _pay(alice, restaurant, 3000, _ids(second, programId));
        assertEq(rec.programAmounts[0], 3000, "named first");
        assertEq(rec.programAmounts[1], 0, "untouched");
        assertEq(token.pocketOf(second, alice), 2000, "second");
        assertEq(token.pocketOf(programId, alice), 10_000, "first");
    }

    function test_pay_fromPocketOnlyMintsMerchantBalance() public {
        _claim(programId, _tree(), 1); // bob 20k
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(bob, grocery, 20_000, _ids(programId));
        assertEq(rec.fromGeneral, 0, "no general");
        assertEq(rec.cashback, 0, "no cashback on policy money");
        assertEq(token.balanceOf(grocery), 20_000, "merchant");
        assertEq(token.totalSupply(), 20_000, "supply grows by the pocket part");
        assertEq(token.balanceOf(bob), 0, "bob general");
    }

    function test_pay_namingPocketsEmitsPaidWithPockets() public {
        _claim(programId, _tree(), 1); // bob 20k
        vm.warp(start);
        uint256[] memory parts = new uint256[](1);
        parts[0] = 20_000;
        bytes32 id = keccak256("order-pockets");
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaidWithPockets(bob, grocery, id, 0, 20_000, 0, 0, _ids(programId), parts);
        vm.prank(bob);
        token.pay(grocery, 20_000, id, _ids(programId));
    }

    function test_pay_emptyPocketFallsThroughToGeneral() public {
        buy(alice, 10_000);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(alice, grocery, 10_000, _ids(programId));
        assertEq(rec.programAmounts[0], 0, "empty pocket");
        assertEq(rec.fromGeneral, 10_000, "general");
    }

    function test_pay_overRevenueCapMerchantWhenWaived() public {
        _claim(programId, _tree(), 1); // bob 20k, program waives the revenue cap
        vm.warp(start);
        _pay(bob, bigMart, 15_000, _ids(programId));
        assertEq(token.balanceOf(bigMart), 15_000, "big mart paid");
        assertEq(token.pocketOf(programId, bob), 5000, "pocket");
    }

    function test_RevertWhen_payOverRevenueCapMerchantNotWaived() public {
        uint256 id = _singleProgram(bob, 20_000, false);
        vm.warp(start);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantOverRevenueCap.selector, bigMart, 3, 3
            )
        );
        vm.prank(bob);
        token.pay(bigMart, 15_000, "p", _ids(id));
    }

    function test_RevertWhen_payOverRevenueCapGeneralRemainder() public {
        _claim(programId, _tree(), 1); // bob 20k
        buy(bob, 50_000);
        vm.warp(start);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantOverRevenueCap.selector, bigMart, 3, 3
            )
        );
        vm.prank(bob);
        token.pay(bigMart, 25_000, "p", _ids(programId));
    }

    function test_RevertWhen_payPocketCategoryNotAllowed() public {
        _claim(programId, _tree(), 1);
        vm.warp(start);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.ProgramCategoryNotAllowed.selector, programId, KSIC_BAR
            )
        );
        vm.prank(bob);
        token.pay(bar, 1000, "p", _ids(programId));
    }

    function test_RevertWhen_payPocketBeforeStart() public {
        _claim(programId, _tree(), 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramNotStarted.selector, programId, start)
        );
        vm.prank(bob);
        token.pay(grocery, 1000, "p", _ids(programId));
    }

    function test_RevertWhen_payPocketAtExpiry() public {
        _claim(programId, _tree(), 1);
        vm.warp(expiry);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramExpired.selector, programId, expiry)
        );
        vm.prank(bob);
        token.pay(grocery, 1000, "p", _ids(programId));
    }

    function test_RevertWhen_payPocketProgramClosed() public {
        _claim(programId, _tree(), 1);
        vm.warp(expiry);
        _close(programId);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClosed.selector, programId)
        );
        vm.prank(bob);
        token.pay(grocery, 1000, "p", _ids(programId));
    }

    function test_RevertWhen_payDuplicatePocket() public {
        _claim(programId, _tree(), 1);
        vm.warp(start);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramDuplicatePocket.selector, programId)
        );
        vm.prank(bob);
        token.pay(grocery, 1000, "p", _ids(programId, programId));
    }

    function test_RevertWhen_payUnknownProgram() public {
        _claim(programId, _tree(), 1);
        vm.warp(start);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramUnknown.selector, 99));
        vm.prank(bob);
        token.pay(grocery, 1000, "p", _ids(programId, 99));
    }

    function test_RevertWhen_payPocketAndGeneralShort() public {
        _claim(programId, _tree(), 1); // 20k
        buy(bob, 1000);
        vm.warp(start);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, bob, 1000, 5000
            )
        );
        vm.prank(bob);
        token.pay(grocery, 25_000, "p", _ids(programId));
    }

    function testFuzz_pay_pocketsFirstThenGeneral(
        uint256 pocketA,
        uint256 pocketB,
        uint256 general,
        uint256 amount
    ) public {
        pocketA = bound(pocketA, 1, 500_000);
        pocketB = bound(pocketB, 1, 500_000);
        general = bound(general, 1, 700_000);
        amount = bound(amount, 1, pocketA + pocketB + general);
        uint256 a = _singleProgram(alice, pocketA, false);
        uint256 b = _singleProgram(alice, pocketB, false);
        _issueAtPar(alice, general);
        vm.warp(start);
        uint256 supply = token.totalSupply();
        IVoucherTypes.PaymentRecord memory rec = _pay(alice, grocery, amount, _ids(a, b));
        uint256 takeA = amount < pocketA ? amount : pocketA;
        uint256 takeB = amount - takeA < pocketB ? amount - takeA : pocketB;
        uint256 fromGeneral = amount - takeA - takeB;
        // tier 1: 7% on the general part, within the ₩300k monthly base
        uint256 base = fromGeneral < 300_000 ? fromGeneral : 300_000;
        uint256 cashback = base * 700 / 10_000;
        assertEq(rec.programAmounts[0], takeA, "take A");
        assertEq(rec.programAmounts[1], takeB, "take B");
        assertEq(rec.fromGeneral, fromGeneral, "general");
        assertEq(rec.cashback, cashback, "cashback");
        assertEq(token.pocketOf(a, alice), pocketA - takeA, "pocket A");
        assertEq(token.pocketOf(b, alice), pocketB - takeB, "pocket B");
        assertEq(token.balanceOf(alice), general - fromGeneral + cashback, "alice");
        assertEq(token.balanceOf(grocery), amount, "merchant");
        assertEq(token.totalSupply(), supply + takeA + takeB + cashback, "supply");
        assertEq(_program(a).spent, takeA, "spent A");
        assertEq(_program(b).spent, takeB, "spent B");
    }

    // ================================================================== cancelPayment

    function test_cancelPayment_restoresPocketWhileLive() public {
        _claim(programId, _tree(), 2); // carol 30k
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(carol, restaurant, 12_000, _ids(programId));
        assertEq(_program(programId).spent, 12_000, "spent after pay");
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            carol, restaurant, rec.paymentId, rec.seq, 12_000, 12_000, 0, 0, 0, _amounts(12_000)
        );
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.pocketOf(programId, carol), 30_000, "pocket restored");
        assertEq(_program(programId).spent, 0, "spent back to 0");
        assertEq(token.balanceOf(restaurant), 0, "merchant");
        assertEq(token.totalSupply(), 0, "pocket part burned");
        assertFalse(token.isPaymentOnRecord(restaurant, rec), "off record");
    }

    function test_cancelPayment_afterExpiryReturnsToBudget() public {
        _claim(programId, _tree(), 2); // carol 30k
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(carol, restaurant, 12_000, _ids(programId));
        vm.warp(expiry);
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.pocketOf(programId, carol), 18_000, "not restored after expiry");
        IVoucherTypes.Program memory p = _program(programId);
        assertEq(p.spent, 0, "spent decreases");
        assertEq(p.granted, 30_000, "granted unchanged");
        assertEq(token.totalSupply(), 0, "burned");
        assertEq(_close(programId), BUDGET, "whole budget returns");
    }

    function test_cancelPayment_afterCloseOnlyBurns() public {
        _claim(programId, _tree(), 2);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(carol, restaurant, 12_000, _ids(programId));
        vm.warp(expiry);
        assertEq(_close(programId), BUDGET - 12_000, "returned");
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
        assertEq(_program(programId).spent, 12_000, "spent frozen at close");
        assertEq(token.pocketOf(programId, carol), 18_000, "pocket");
        assertEq(token.balanceOf(restaurant), 0, "merchant");
        assertEq(token.totalSupply(), 0, "burned");
    }

    function test_cancelPayment_mixedReturnsGeneralLessCashback() public {
        _claim(programId, _tree(), 0); // alice 10k
        buy(alice, 50_000);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(alice, restaurant, 30_000, _ids(programId));
        assertEq(rec.fromGeneral, 20_000, "general");
        assertEq(rec.cashback, 2000, "cashback");
        assertEq(token.balanceOf(alice), 32_000, "after pay");
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(alice), 50_000, "general restored net of cashback");
        assertEq(token.pocketOf(programId, alice), 10_000, "pocket restored");
        assertEq(token.totalSupply(), 50_000, "supply back");
        assertEq(_program(programId).spent, 0, "spent");
    }

    function test_RevertWhen_cancelPaymentTwice() public {
        _claim(programId, _tree(), 2);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(carol, restaurant, 12_000, _ids(programId));
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, carol, rec.seq)
        );
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
    }

    function test_RevertWhen_cancelPaymentWithInflatedProgramAmount() public {
        _claim(programId, _tree(), 2);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(carol, restaurant, 12_000, _ids(programId));
        rec.programAmounts[0] = 20_000;
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, carol, rec.seq)
        );
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
    }

    function testFuzz_cancelPayment_restoresExactly(
        uint256 general,
        uint256 amount,
        uint256 delay,
        bool closeFirst
    ) public {
        _claim(programId, _tree(), 6); // carol 70k
        general = bound(general, 0, 700_000);
        if (general > 0) _issueAtPar(carol, general);
        amount = bound(amount, 1, 70_000 + general);
        vm.warp(start);
        IVoucherTypes.PaymentRecord memory rec = _pay(carol, restaurant, amount, _ids(programId));
        uint256 take = rec.programAmounts[0];
        uint256 balanceAfterPay = token.balanceOf(carol);
        uint256 supplyAfterPay = token.totalSupply();
        delay = bound(delay, 0, 40 days);
        vm.warp(start + delay);
        bool expired = block.timestamp >= expiry;
        bool closed = expired && closeFirst;
        if (closed) _close(programId);
        vm.prank(restaurant);
        token.cancelPayment(rec, rec.amount);
        assertEq(token.balanceOf(restaurant), 0, "merchant");
        assertEq(
            token.balanceOf(carol), balanceAfterPay + rec.fromGeneral - rec.cashback, "general"
        );
        assertEq(token.balanceOf(carol), general, "net effect on general is nil");
        assertEq(
            token.totalSupply(),
            supplyAfterPay - (amount - rec.fromGeneral + rec.cashback),
            "supply"
        );
        IVoucherTypes.Program memory p = _program(programId);
        assertEq(p.spent, closed ? take : 0, "spent");
        assertEq(token.pocketOf(programId, carol), expired ? 70_000 - take : 70_000, "pocket");
    }

    // ================================================================== closeProgram

    function test_closeProgram_returnsBudgetMinusSpent() public {
        MerkleBuilder.Tree memory t = _tree();
        _push(programId, t, 0xFF);
        vm.warp(start);
        _pay(alice, restaurant, 45_000, _ids(programId));
        _pay(dave, grocery, 100_000, _ids(programId));
        vm.warp(expiry);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.ProgramClosed(programId, BUDGET, 145_000, BUDGET - 145_000);
        assertEq(_close(programId), BUDGET - 145_000, "returned");
        assertTrue(_program(programId).closed, "closed");
    }

    function test_RevertWhen_closeProgramNotExpired() public {
        vm.warp(expiry - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramNotExpired.selector, programId, expiry)
        );
        _close(programId);
    }

    function test_RevertWhen_closeProgramTwice() public {
        vm.warp(expiry);
        _close(programId);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClosed.selector, programId)
        );
        _close(programId);
    }

    function test_RevertWhen_closeProgramCallerNotManager() public {
        vm.warp(expiry);
        bytes32 role = VoucherToken(address(token)).PROGRAM_MANAGER_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, alice, role
            )
        );
        vm.prank(alice);
        token.closeProgram(programId);
    }

    function test_RevertWhen_closeProgramUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.ProgramUnknown.selector, 5));
        _close(5);
    }

    function testFuzz_closeProgram_returnsBudgetMinusSpent(
        uint256 mask,
        uint256 spendAlice,
        uint256 spendDave,
        uint256 late
    ) public {
        mask = bound(mask, 0, (1 << LEAVES) - 1);
        _push(programId, _tree(), mask);
        vm.warp(start);
        uint256 pocketAlice = token.pocketOf(programId, alice);
        uint256 pocketDave = token.pocketOf(programId, dave);
        spendAlice = bound(spendAlice, 0, pocketAlice);
        spendDave = bound(spendDave, 0, pocketDave);
        if (spendAlice > 0) _pay(alice, restaurant, spendAlice, _ids(programId));
        if (spendDave > 0) _pay(dave, bigMart, spendDave, _ids(programId));
        uint256 granted = _program(programId).granted;
        assertEq(_sumPockets(programId) + spendAlice + spendDave, granted, "pockets + spent");
        vm.warp(uint256(expiry) + bound(late, 0, 365 days));
        uint256 returned = _close(programId);
        assertEq(returned, BUDGET - spendAlice - spendDave, "returned");
        IVoucherTypes.Program memory p = _program(programId);
        assertEq(p.spent, spendAlice + spendDave, "spent");
        assertEq(p.granted, granted, "granted");
        assertTrue(p.closed, "closed");
    }

    function _amounts(uint256 a) private pure returns (uint256[] memory amounts) {
        amounts = new uint256[](1);
        amounts[0] = a;
    }
}
