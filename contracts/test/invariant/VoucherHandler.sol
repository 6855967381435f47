// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";
import {IVoucherBase} from "../../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";
import {Vm} from "../utils/Vm.sol";
import {PaidLogs} from "../utils/PaidLogs.sol";
import {SignedPayments} from "../utils/SignedPayments.sol";

/// @notice Drives one municipality's voucher token through every kind of movement, only with
/// calls that must succeed (`fail_on_revert = true`), and keeps a ghost ledger of where every
/// won came from. Each action bounds its inputs against the rules in force and returns early
/// when the action is impossible; a call the model says must fail is wrapped in
/// `vm.expectRevert` with the exact error. Every payment's outcome (pocket takes, general part,
/// cashback, sequence) is predicted before the call and compared with the `Paid` event.
contract VoucherHandler {
    using MerkleBuilder for MerkleBuilder.Tree;

    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 private constant BPS = 10_000;
    uint256 private constant RING = 16;
    uint256 private constant DAYS_1970_TO_2024 = 19_723; // 54 years, 13 of them leap years

    /// @notice Thrown when the contract's outcome differs from the handler's model.
    error HandlerMismatch(string what, uint256 actual, uint256 expected);

    struct Config {
        IVoucherToken token;
        UpgradeableBeacon beacon;
        address[] implementations; // fresh deployments identical to the live implementation
        address operator;
        address cityAdmin;
        address issuer;
        address manager;
        address[] citizens;
        address institution;
        uint256[] holderKeys; // the citizens' keys, then the institution's (signed payments)
        address[] merchants; // any categories and tiers
        uint256 programId;
        IVoucherTypes.Grant[] leaves;
        uint24[] programCategories;
    }

    struct Expected {
        address payer;
        address merchant;
        uint256 amount;
        uint256 take; // from the program pocket
        uint256 fromGeneral;
        uint256 cashback;
        uint256 cashbackBase; // monthly cashback base the payment uses up
        bool usesProgram;
    }

    struct Payment {
        address merchant;
        bool cancelled;
        IVoucherTypes.PaymentRecord record;
    }

    // ------------------------------------------------------------------ system under test
    IVoucherToken public immutable token;
    UpgradeableBeacon public immutable beacon;
    address private immutable _operator;
    address private immutable _cityAdmin;
    address private immutable _issuer;
    address private immutable _manager;
    address public immutable institution;
    uint256 public immutable programId;
    uint256 public immutable programBudget;
    uint256 public immutable programStart;
    uint256 public immutable programExpiry;

    address[] private _implementations;
    address[] private _citizens;
    address[] private _holders; // citizens, then the institution
    address[] private _merchants;
    address[] private _pocketMerchants; // merchants of a category the program allows
    mapping(address => bool) public isCitizen;
    mapping(address => uint8) private _tier;
    mapping(address holder => uint256) private _keyOf;
    IVoucherTypes.Grant[] private _leaves;
    mapping(uint256 index => uint256) private _positionOf; // leaf index -> position + 1

    // ------------------------------------------------------------------ clock
    /// @notice The handler's clock; every action re-applies it with `vm.warp`.
    uint256 public currentTime;

    // ------------------------------------------------------------------ ghost ledger
    // Every increase of a holder's general balance, by the edge it came along.
    mapping(address => uint256) public ghost_issued;
    mapping(address => uint256) public ghost_giftIn;
    mapping(address => uint256) public ghost_cancelBack;
    mapping(address => uint256) public ghost_cashback;
    // Every decrease of a holder's general balance.
    mapping(address => uint256) public ghost_paidGeneral;
    mapping(address => uint256) public ghost_giftOut;
    mapping(address => uint256) public ghost_refunded;
    // Merchants: payments in; redemptions and cancellations out.
    mapping(address => uint256) public ghost_received;
    mapping(address => uint256) public ghost_redeemed;
    mapping(address => uint256) public ghost_cancelledOut;
    /// @notice Times a merchant's balance fell in an action that was not its redemption or
    /// cancellation.
    uint256 public ghost_merchantUnexpectedDecreases;

    // Caps.
    mapping(address => mapping(uint256 month => uint256)) public ghost_monthPurchased;
    mapping(address => mapping(uint256 month => uint256)) public ghost_purchaseCapAtLastSale;
    mapping(address => mapping(uint256 month => uint256)) public ghost_giftSent;
    mapping(address => mapping(uint256 month => uint256)) public ghost_giftReceived;
    mapping(address => mapping(uint256 month => uint256)) private _cashbackBaseUsed;
    /// @notice The most a citizen may hold now: the holding cap in force at their latest
    /// increase by sale, gift or cashback, or, if the latest increase was a cancellation
    /// restore, the larger of the cap then and the balance right after the restore.
    mapping(address => uint256) public ghost_holdingCeiling;
    mapping(address => bool) public ghost_overCapByCancel;
    mapping(address => uint256) public ghost_boughtFace;
    mapping(address => uint256) public ghost_boughtPaid;
    /// @notice The payer's next payment sequence at their last refund: the payments before it
    /// are closed (cancelling one reverts VoucherPaymentClosedByRefund).
    mapping(address => uint256) public ghost_refundedAtSeq;
    /// @notice Cashback and gifts received since the last refund (money that was not bought,
    /// which a refund never pays out); a cancellation leaves it as it is, as the token does.
    mapping(address => uint256) public ghost_otherIn;

    // The program.
    mapping(address => uint256) public ghost_pocket;
    mapping(uint256 position => uint256) public ghost_grantCount;
    uint256 public ghost_granted;
    uint256 public ghost_spent;
    /// @notice Program money of payments cancelled after expiry and before close: it returns
    /// to the budget (spent drops) instead of to a pocket.
    uint256 public ghost_returnedAfterExpiry;
    bool public ghost_expirySnapshotTaken;
    uint256 public ghost_pocketsAtExpiry;
    uint256 public ghost_spentAtExpiry;
    bool public ghost_closed;
    uint256 public ghost_closeReturned;
    uint256 public ghost_spentAtClose;
    uint256 public ghost_deadPocketProbes;

    // Rules and upgrades.
    bytes32 public ghost_rulesHash;
    uint256 public ghost_rulesVersion;
    bytes32 public ghost_pendingHash;
    uint256 public ghost_pendingAt;
    address public ghost_implementation;
    uint256 public ghost_upgrades;

    // Payments.
    Payment[] private _payments;
    mapping(address => uint256) public ghost_nextSeq;

    // Coverage: successful actions by name.
    mapping(bytes32 action => uint256) public calls;

    address private _mayDecrease; // the merchant an action is allowed to debit

    constructor(Config memory c) {
        token = c.token;
        beacon = c.beacon;
        _implementations = c.implementations;
        _operator = c.operator;
        _cityAdmin = c.cityAdmin;
        _issuer = c.issuer;
        _manager = c.manager;
        institution = c.institution;
        programId = c.programId;
        IVoucherTypes.Program memory p = c.token.programOf(c.programId);
        programBudget = p.budget;
        programStart = p.start;
        programExpiry = p.expiry;
        for (uint256 i = 0; i < c.citizens.length; ++i) {
            _citizens.push(c.citizens[i]);
            _holders.push(c.citizens[i]);
            isCitizen[c.citizens[i]] = true;
        }
        _holders.push(c.institution);
        for (uint256 i = 0; i < c.holderKeys.length; ++i) {
            _keyOf[_holders[i]] = c.holderKeys[i];
        }
        for (uint256 i = 0; i < c.merchants.length; ++i) {
            address m = c.merchants[i];
            IVoucherTypes.Merchant memory info = c.token.merchantOf(m);
            _merchants.push(m);
            _tier[m] = info.tier;
            for (uint256 j = 0; j < c.programCategories.length; ++j) {
                if (c.programCategories[j] == info.category) _pocketMerchants.push(m);
            }
        }
        for (uint256 i = 0; i < c.leaves.length; ++i) {
            _leaves.push(c.leaves[i]);
            _positionOf[c.leaves[i].index] = i + 1;
        }
        currentTime = block.timestamp;
        ghost_rulesHash = keccak256(abi.encode(c.token.rules()));
        ghost_rulesVersion = c.token.rulesVersion();
        ghost_implementation = c.beacon.implementation();
        uint256 cap = c.token.rules().holdingCap;
        for (uint256 i = 0; i < c.citizens.length; ++i) {
            ghost_holdingCeiling[c.citizens[i]] = cap;
        }
    }

    /// @dev Re-applies the handler's clock and checks that merchants' balances only fall in
    /// their own redemptions and cancellations.
    modifier step() {
        vm.warp(currentTime);
        _mayDecrease = address(0);
        uint256 n = _merchants.length;
        uint256[] memory before = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            before[i] = token.balanceOf(_merchants[i]);
        }
        _;
        for (uint256 i = 0; i < n; ++i) {
            address m = _merchants[i];
            if (m != _mayDecrease && token.balanceOf(m) < before[i]) {
                ++ghost_merchantUnexpectedDecreases;
            }
        }
    }

    // ================================================================== money

    /// @notice A sale within the discount bounds, the monthly purchase cap and the holding cap.
    function issue(uint256 who, uint256 face, uint256 discountBps) external step {
        address buyer = _holder(who);
        IVoucherTypes.Rules memory r = token.rules();
        uint256 month = kstMonth(currentTime);
        uint256 max = 500_000;
        if (isCitizen[buyer]) {
            uint256 purchased = ghost_monthPurchased[buyer][month];
            uint256 balance = token.balanceOf(buyer);
            if (purchased >= r.monthlyPurchaseCap || balance >= r.holdingCap) return;
            max = _min(max, _min(r.monthlyPurchaseCap - purchased, r.holdingCap - balance));
        }
        // A third of sales fill the buyer up to the tighter cap.
        face = face % 3 == 0 ? max : _bound(face, 1, max);
        (bool ok, uint256 paid) = _price(face, discountBps, r);
        if (!ok) return;
        vm.prank(_issuer);
        token.issue(buyer, face, paid);
        ghost_issued[buyer] += face;
        ghost_boughtFace[buyer] += face;
        ghost_boughtPaid[buyer] += paid;
        if (isCitizen[buyer]) {
            ghost_monthPurchased[buyer][month] += face;
            ghost_purchaseCapAtLastSale[buyer][month] = r.monthlyPurchaseCap;
            _creditedBelowCap(buyer, r.holdingCap);
        }
        ++calls["issue"];
    }

    /// @notice A payment from the general pocket to any merchant that may take purchased money.
    function payGeneral(uint256 who, uint256 merchantSeed, uint256 amount) external step {
        (Expected memory e, bool found) = _generalPayment(who, merchantSeed, amount);
        if (!found) return;
        vm.recordLogs();
        vm.prank(e.payer);
        token.pay(e.merchant, e.amount, _paymentId(e), new uint256[](0));
        _settle(e);
        ++calls["payGeneral"];
    }

    /// @notice `payGeneral` signed by the payer for their next sequence and submitted by a
    /// stranger: alone (`payBySig`), or in a batch next to a replay of itself, which the batch
    /// must skip while the first pays exactly once.
    function payBySig(uint256 who, uint256 merchantSeed, uint256 amount) external step {
        (Expected memory e, bool found) = _generalPayment(who, merchantSeed, amount);
        if (!found) return;
        IVoucherTypes.SignedPayment memory p = IVoucherTypes.SignedPayment({
            payer: e.payer,
            merchant: e.merchant,
            amount: e.amount,
            paymentId: _paymentId(e),
            programIds: new uint256[](0),
            nonce: ghost_nextSeq[e.payer],
            deadline: currentTime + 1 hours
        });
        IVoucherTypes.PaymentSignature memory signature = _signPayment(p);
        vm.recordLogs();
        if (who % 2 == 0) {
            token.payBySig(p, signature);
        } else {
            IVoucherTypes.SignedPayment[] memory ps = new IVoucherTypes.SignedPayment[](2);
            IVoucherTypes.PaymentSignature[] memory sigs = new IVoucherTypes.PaymentSignature[](2);
            (ps[0], ps[1], sigs[0], sigs[1]) = (p, p, signature, signature);
            _check("batch paid once", token.payBySigBatch(ps, sigs), 1);
        }
        _settle(e);
        ++calls["payBySig"];
    }

    /// @notice A payment naming the program's pocket: pocket first, the rest from general.
    function payWithPocket(uint256 who, uint256 merchantSeed, uint256 amount) external step {
        if (!_live()) return;
        address payer = _holder(who);
        address merchant = _pocketMerchants[merchantSeed % _pocketMerchants.length];
        IVoucherTypes.Rules memory r = token.rules();
        uint256 pocket = ghost_pocket[payer];
        uint256 general = _tier[merchant] < r.revenueCapTier ? token.balanceOf(payer) : 0;
        uint256 max = _institutionCapped(payer, pocket + general, r);
        if (max == 0) return;
        amount = _bound(amount, 1, max);
        Expected memory e = _expect(payer, merchant, amount, true, pocket, r);
        vm.recordLogs();
        vm.prank(payer);
        token.pay(merchant, amount, _paymentId(e), _programIds());
        _settle(e);
        ++calls["payWithPocket"];
    }

    /// @notice A merchant cancels one of its payments still on record.
    function cancel(uint256 seed) external step {
        uint256 n = _payments.length;
        if (n == 0) return;
        for (uint256 k = 0; k < n; ++k) {
            uint256 i = (seed % n + k) % n;
            if (_cancellable(_payments[i])) {
                _cancel(_payments[i]);
                ++calls["cancel"];
                return;
            }
        }
    }

    /// @notice A gift between two different citizens within both monthly gift caps and the
    /// receiver's holding cap.
    function gift(uint256 fromSeed, uint256 toSeed, uint256 amount) external step {
        IVoucherTypes.Rules memory r = token.rules();
        if (!r.giftEnabled) return;
        address from = _citizens[fromSeed % _citizens.length];
        address to = _citizens[toSeed % _citizens.length];
        if (from == to) return;
        uint256 month = kstMonth(currentTime);
        uint256 toBalance = token.balanceOf(to);
        uint256 sent = ghost_giftSent[from][month];
        uint256 received = ghost_giftReceived[to][month];
        if (sent >= r.giftSendCap || received >= r.giftReceiveCap) return;
        if (toBalance >= r.holdingCap) return;
        uint256 max = _min(token.balanceOf(from), r.giftSendCap - sent);
        max = _min(max, _min(r.giftReceiveCap - received, r.holdingCap - toBalance));
        if (max == 0) return;
        amount = amount % 3 == 0 ? max : _bound(amount, 1, max);
        _giveAwayBought(from, amount);
        vm.prank(from);
        token.gift(to, amount);
        ghost_giftOut[from] += amount;
        ghost_giftIn[to] += amount;
        ghost_giftSent[from][month] += amount;
        ghost_giftReceived[to][month] += amount;
        _addOtherIn(to, amount);
        _creditedBelowCap(to, r.holdingCap);
        ++calls["gift"];
    }

    /// @notice A merchant redeems part of its balance for cash.
    function redeem(uint256 merchantSeed, uint256 amount) external step {
        address merchant = address(0);
        uint256 balance = 0;
        for (uint256 k = 0; k < _merchants.length && balance == 0; ++k) {
            merchant = _merchants[(merchantSeed % _merchants.length + k) % _merchants.length];
            balance = token.balanceOf(merchant);
        }
        if (balance == 0) return;
        amount = _bound(amount, 1, balance);
        _mayDecrease = merchant;
        vm.prank(merchant);
        token.redeem(amount, bytes32(currentTime));
        ghost_redeemed[merchant] += amount;
        ++calls["redeem"];
    }

    /// @notice A cash refund by the first holder from `who` on who has spent enough of the
    /// money they bought.
    function refund(uint256 who) external step {
        uint256 threshold = token.rules().refundThresholdBps;
        address holder = address(0);
        uint256 bought = 0;
        uint256 face = 0;
        uint256 other = 0;
        for (uint256 k = 0; k < _holders.length && holder == address(0); ++k) {
            address h = _holders[(who % _holders.length + k) % _holders.length];
            bought = ghost_boughtFace[h];
            uint256 balance = token.balanceOf(h);
            // Cashback and gifts received since the last refund count as spent last.
            other = _min(ghost_otherIn[h], balance);
            face = _min(balance - other, bought);
            if (face > 0 && (bought - face) * BPS / bought >= threshold) holder = h;
        }
        if (holder == address(0)) return;
        uint256 expectedCash = face * ghost_boughtPaid[holder] / bought;
        vm.prank(holder);
        (uint256 refunded, uint256 cash) = token.refund();
        _check("refund face", refunded, face);
        _check("refund cash", cash, expectedCash);
        ghost_refunded[holder] += face;
        ghost_boughtFace[holder] = 0;
        ghost_boughtPaid[holder] = 0;
        ghost_otherIn[holder] = other;
        ghost_refundedAtSeq[holder] = ghost_nextSeq[holder];
        ++calls["refund"];
    }

    // ================================================================== program

    /// @notice Anyone pushes the leaves selected by `mask` with one multiproof; leaves already
    /// paid are in the batch too and must be skipped.
    function grant(uint256 mask, uint256 gatewaySeed) external step {
        if (!_grantable()) return;
        uint256 n = _leaves.length;
        mask = _bound(mask, 1, (1 << n) - 1); // a batch names a grant: empty ones revert
        MerkleBuilder.MultiProof memory m = MerkleBuilder.build(_leaves).getMultiProofOfMask(mask);
        uint256 expectedPaid = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (mask & (1 << i) != 0 && ghost_grantCount[i] == 0) ++expectedPaid;
        }
        address gateway = address(uint160(uint256(keccak256(abi.encode("gateway", gatewaySeed)))));
        vm.recordLogs();
        vm.prank(gateway);
        uint256 paid = token.grantBatch(programId, m.leaves, m.proof, m.proofFlags);
        _check("grantBatch paidCount", paid, expectedPaid);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] != IVoucherBase.Granted.selector) continue;
            address recipient = address(uint160(uint256(logs[i].topics[2])));
            (uint256 index, uint256 amount) = abi.decode(logs[i].data, (uint256, uint256));
            _credit(_positionOf[index] - 1, recipient, amount);
        }
        ++calls["grant"];
    }

    /// @notice A recipient pulls their own grant, or pulls it and pays with it in one call.
    function claim(uint256 leafSeed, bool andPay, uint256 merchantSeed, uint256 amount)
        external
        step
    {
        if (!_grantable()) return;
        uint256 n = _leaves.length;
        uint256 pos = n;
        for (uint256 k = 0; k < n; ++k) {
            if (ghost_grantCount[(leafSeed % n + k) % n] == 0) {
                pos = (leafSeed % n + k) % n;
                break;
            }
        }
        if (pos == n) return;
        IVoucherTypes.Grant memory g = _leaves[pos];
        bytes32[] memory proof = MerkleBuilder.build(_leaves).getProof(pos);
        if (andPay && _live()) {
            _claimAndPay(pos, g, proof, merchantSeed, amount);
            return;
        }
        vm.prank(g.recipient);
        token.claim(programId, g.index, g.amount, proof);
        _credit(pos, g.recipient, g.amount);
        ++calls["claim"];
    }

    /// @notice The program manager closes the program once it has expired.
    function closeProgram() external step {
        if (ghost_closed || currentTime < programExpiry) return;
        vm.prank(_manager);
        uint256 returned = token.closeProgram(programId);
        _check("close returned", returned, programBudget - ghost_spent);
        ghost_closed = true;
        ghost_closeReturned = returned;
        ghost_spentAtClose = ghost_spent;
        ++calls["closeProgram"];
    }

    /// @notice Outside its window the program's pocket must not be spendable: the payment
    /// reverts with the window's error.
    function probeDeadPocket(uint256 who, uint256 merchantSeed, uint256 amount) external step {
        if (_live()) return;
        address payer = _citizens[who % _citizens.length];
        address merchant = _pocketMerchants[merchantSeed % _pocketMerchants.length];
        amount = _bound(amount, 1, 1_000_000);
        if (ghost_closed) {
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherBase.ProgramAlreadyClosed.selector, programId)
            );
        } else if (currentTime < programStart) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.ProgramNotStarted.selector, programId, programStart
                )
            );
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.ProgramExpired.selector, programId, programExpiry
                )
            );
        }
        vm.prank(payer);
        token.pay(merchant, amount, "dead pocket", _programIds());
        ++ghost_deadPocketProbes;
        ++calls["probeDeadPocket"];
    }

    /// @notice Movements along edges the rules forbid must revert with the rule's error.
    function probeForbiddenEdge(uint256 kind, uint256 a, uint256 b) external step {
        address citizen = _citizens[a % _citizens.length];
        address merchant = _merchants[b % _merchants.length];
        address other = _merchants[(b % _merchants.length + 1) % _merchants.length];
        kind = kind % 8;
        bytes memory err;
        if (kind == 0) {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, merchant, citizen
            );
            vm.expectRevert(err);
            vm.prank(merchant);
            token.gift(citizen, 1);
        } else if (kind == 1) {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, merchant, other
            );
            vm.expectRevert(err);
            vm.prank(merchant);
            token.pay(other, 1, "m2m", new uint256[](0));
        } else if (kind == 2) {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, citizen, institution
            );
            vm.expectRevert(err);
            vm.prank(citizen);
            token.gift(institution, 1);
        } else if (kind == 3) {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, institution, citizen
            );
            vm.expectRevert(err);
            vm.prank(institution);
            token.transfer(citizen, 1);
        } else if (kind == 4) {
            address stranger = address(uint160(uint256(keccak256(abi.encode("stranger", b)))));
            err = abi.encodeWithSelector(IVoucherBase.VoucherUnregistered.selector, stranger);
            vm.expectRevert(err);
            vm.prank(citizen);
            token.transfer(stranger, 1);
        } else if (kind == 5) {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherUnsupported.selector, IERC20.transferFrom.selector
            );
            vm.expectRevert(err);
            vm.prank(merchant);
            token.transferFrom(citizen, merchant, 1);
        } else if (kind == 6) {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, merchant, address(0)
            );
            vm.expectRevert(err);
            vm.prank(merchant);
            token.refund();
        } else {
            err = abi.encodeWithSelector(
                IVoucherBase.VoucherEdgeNotAllowed.selector, address(0), merchant
            );
            vm.expectRevert(err);
            vm.prank(_issuer);
            token.issue(merchant, 1000, 1000);
        }
        ++calls["probeForbiddenEdge"];
    }

    // ================================================================== time, rules, upgrades

    /// @notice Moves the clock: mostly by minutes to days, sometimes to just before the next
    /// KST month boundary or to around the program's expiry.
    function warp(uint256 seconds_, uint256 mode) external {
        vm.warp(currentTime);
        uint256 target;
        mode = mode % 8;
        if (mode == 0) {
            uint256 next = nextKstMonthStart(currentTime);
            target = next - _bound(seconds_, 1, 1 hours);
        } else if (mode == 1 && currentTime < programExpiry) {
            target = programExpiry - 1 hours + _bound(seconds_, 0, 2 hours);
        } else {
            target = currentTime + _bound(seconds_, 1 minutes, 3 days);
        }
        if (target <= currentTime) target = currentTime + 1;
        if (currentTime < programExpiry && target >= programExpiry) {
            ghost_expirySnapshotTaken = true;
            ghost_pocketsAtExpiry = sumPockets();
            ghost_spentAtExpiry = ghost_spent;
        }
        currentTime = target;
        vm.warp(target);
        ++calls["warp"];
    }

    /// @notice The city admin proposes new (valid) rules; with no change delay they apply at once.
    function proposeRules(uint256 seed) external step {
        IVoucherTypes.Rules memory next = _rulesFrom(seed);
        uint256 delay = token.rules().changeDelay;
        vm.prank(_cityAdmin);
        uint256 version = token.proposeRules(next);
        _check("proposed version", version, ghost_rulesVersion + 1);
        if (delay == 0) {
            ghost_rulesHash = keccak256(abi.encode(next));
            ghost_rulesVersion = version;
            ghost_pendingHash = bytes32(0);
            ghost_pendingAt = 0;
        } else {
            ghost_pendingHash = keccak256(abi.encode(next));
            ghost_pendingAt = currentTime + delay;
        }
        ++calls["proposeRules"];
    }

    /// @notice Anyone activates pending rules once their time has come.
    function activateRules() external step {
        if (ghost_pendingAt == 0 || currentTime < ghost_pendingAt) return;
        token.activateRules();
        ghost_rulesHash = ghost_pendingHash;
        ++ghost_rulesVersion;
        ghost_pendingHash = bytes32(0);
        ghost_pendingAt = 0;
        ++calls["activateRules"];
    }

    /// @notice The operator points the beacon at another deployment of identical code; every
    /// view of the municipality must read the same before and after.
    function upgrade(uint256 seed) external step {
        uint256 n = _implementations.length;
        address implementation = _implementations[seed % n];
        if (implementation == ghost_implementation) {
            implementation = _implementations[(seed % n + 1) % n];
        }
        bytes32[] memory before = stateDigest();
        vm.prank(_operator);
        beacon.upgradeTo(implementation);
        bytes32[] memory after_ = stateDigest();
        for (uint256 i = 0; i < before.length; ++i) {
            if (before[i] != after_[i]) revert HandlerMismatch("upgrade changed a view", i, 0);
        }
        ghost_implementation = implementation;
        ++ghost_upgrades;
        ++calls["upgrade"];
    }

    // ================================================================== views for invariants

    function citizens() external view returns (address[] memory) {
        return _citizens;
    }

    function holders() external view returns (address[] memory) {
        return _holders;
    }

    function merchants() external view returns (address[] memory) {
        return _merchants;
    }

    function leafCount() external view returns (uint256) {
        return _leaves.length;
    }

    function leafAt(uint256 position) external view returns (IVoucherTypes.Grant memory) {
        return _leaves[position];
    }

    function paymentCount() external view returns (uint256) {
        return _payments.length;
    }

    /// @notice Sum of the program's pockets as the contract reports them.
    function sumPockets() public view returns (uint256 sum) {
        for (uint256 i = 0; i < _holders.length; ++i) {
            sum += token.pocketOf(programId, _holders[i]);
        }
    }

    /// @notice Digests of every view an upgrade must preserve, one per concern.
    function stateDigest() public view returns (bytes32[] memory d) {
        d = new bytes32[](8);
        d[0] = keccak256(abi.encode(token.totalSupply(), token.name(), token.symbol()));
        d[1] = keccak256(abi.encode(token.rules(), token.rulesVersion(), token.region()));
        (IVoucherTypes.Rules memory pending, uint256 at) = token.pendingRules();
        d[2] = keccak256(abi.encode(pending, at, token.paused()));
        d[3] = keccak256(abi.encode(token.programOf(programId), token.programCount()));
        for (uint256 i = 0; i < _holders.length; ++i) {
            address h = _holders[i];
            d[4] = keccak256(abi.encode(d[4], token.balanceOf(h), token.pocketOf(programId, h)));
            d[5] = keccak256(abi.encode(d[5], _accountDigest(h)));
        }
        for (uint256 i = 0; i < _merchants.length; ++i) {
            address m = _merchants[i];
            d[6] = keccak256(abi.encode(d[6], token.balanceOf(m), token.merchantOf(m)));
        }
        for (uint256 i = 0; i < _leaves.length; ++i) {
            d[7] = keccak256(abi.encode(d[7], token.isClaimed(programId, _leaves[i].index)));
        }
        uint256 n = _payments.length;
        for (uint256 i = n > RING ? n - RING : 0; i < n; ++i) {
            Payment storage p = _payments[i];
            d[7] = keccak256(abi.encode(d[7], token.isPaymentOnRecord(p.merchant, p.record)));
        }
    }

    // ================================================================== calendar (independent of KstCalendar)

    /// @notice `year * 12 + month - 1` of `timestamp` in KST, by counting days from 1970.
    function kstMonth(uint256 timestamp) public pure returns (uint256) {
        (uint256 year, uint256 month) = _kstYearMonth(timestamp);
        return year * 12 + month - 1;
    }

    /// @notice The first second of the KST month after the one holding `timestamp`.
    function nextKstMonthStart(uint256 timestamp) public pure returns (uint256) {
        (uint256 year, uint256 month) = _kstYearMonth(timestamp);
        (year, month) = month == 12 ? (year + 1, uint256(1)) : (year, month + 1);
        uint256 days_ = year >= 2024 ? DAYS_1970_TO_2024 : 0;
        for (uint256 y = year >= 2024 ? 2024 : 1970; y < year; ++y) {
            days_ += _isLeap(y) ? 366 : 365;
        }
        for (uint256 m = 1; m < month; ++m) {
            days_ += _monthDays(year, m);
        }
        return days_ * 1 days - 9 hours;
    }

    // ================================================================== internals: payments

    function _expect(
        address payer,
        address merchant,
        uint256 amount,
        bool usesProgram,
        uint256 pocket,
        IVoucherTypes.Rules memory r
    ) private view returns (Expected memory e) {
        e.payer = payer;
        e.merchant = merchant;
        e.amount = amount;
        e.usesProgram = usesProgram;
        if (usesProgram) e.take = pocket < amount ? pocket : amount;
        e.fromGeneral = amount - e.take;
        if (!isCitizen[payer] || e.fromGeneral == 0) return e;
        uint8 tier = _tier[merchant];
        uint256 bps = tier == 0
            ? r.cashbackBpsTier0
            : tier == 1 ? r.cashbackBpsTier1 : tier == 2 ? r.cashbackBpsTier2 : r.cashbackBpsTier3;
        if (bps == 0) return e;
        uint256 used = _cashbackBaseUsed[payer][kstMonth(currentTime)];
        uint256 room = r.cashbackMonthlyBase > used ? r.cashbackMonthlyBase - used : 0;
        e.cashbackBase = _min(e.fromGeneral, room);
        if (e.cashbackBase == 0) return e;
        uint256 cashback = e.cashbackBase * bps / BPS;
        uint256 balance = token.balanceOf(payer) - e.fromGeneral;
        if (balance + cashback > r.holdingCap) {
            cashback = r.holdingCap > balance ? r.holdingCap - balance : 0;
        }
        e.cashback = cashback;
    }

    /// @dev Compares the `Paid` event with the model, then books the payment in the ghosts.
    function _settle(Expected memory e) private {
        IVoucherTypes.PaymentRecord memory rec = _lastPaid();
        _check("paid amount", rec.amount, e.amount);
        _check("paid fromGeneral", rec.fromGeneral, e.fromGeneral);
        _check("paid cashback", rec.cashback, e.cashback);
        _check("paid seq", rec.seq, ghost_nextSeq[e.payer]);
        _check("paid pockets named", rec.programIds.length, e.usesProgram ? 1 : 0);
        if (e.usesProgram) _check("paid pocket take", rec.programAmounts[0], e.take);
        ghost_nextSeq[e.payer] = rec.seq + 1;
        ghost_paidGeneral[e.payer] += e.fromGeneral;
        ghost_cashback[e.payer] += e.cashback;
        _addOtherIn(e.payer, e.cashback);
        ghost_received[e.merchant] += e.amount;
        if (e.cashbackBase > 0) {
            _cashbackBaseUsed[e.payer][kstMonth(currentTime)] += e.cashbackBase;
        }
        if (e.cashback > 0) _creditedBelowCap(e.payer, token.rules().holdingCap);
        if (e.take > 0) {
            ghost_pocket[e.payer] -= e.take;
            ghost_spent += e.take;
        }
        Payment storage p = _payments.push();
        p.merchant = e.merchant;
        p.record = rec;
    }

    function _claimAndPay(
        uint256 pos,
        IVoucherTypes.Grant memory g,
        bytes32[] memory proof,
        uint256 merchantSeed,
        uint256 amount
    ) private {
        address merchant = _pocketMerchants[merchantSeed % _pocketMerchants.length];
        IVoucherTypes.Rules memory r = token.rules();
        uint256 pocket = ghost_pocket[g.recipient] + g.amount;
        uint256 general = _tier[merchant] < r.revenueCapTier ? token.balanceOf(g.recipient) : 0;
        amount = _bound(amount, 1, _institutionCapped(g.recipient, pocket + general, r));
        Expected memory e = _expect(g.recipient, merchant, amount, true, pocket, r);
        vm.recordLogs();
        vm.prank(g.recipient);
        token.claimAndPay(
            programId, g.index, g.amount, proof, merchant, amount, _paymentId(e), _programIds()
        );
        _credit(pos, g.recipient, g.amount);
        _settle(e);
        ++calls["claimAndPay"];
    }

    /// @dev A gift leaves the sender's refund basis, bought money first, with its price.
    function _giveAwayBought(address from, uint256 amount) private {
        uint256 bought = ghost_boughtFace[from];
        if (bought == 0) return;
        uint256 balance = token.balanceOf(from);
        uint256 other = _min(ghost_otherIn[from], balance);
        uint256 given = _min(amount, _min(balance - other, bought));
        ghost_boughtPaid[from] -= ghost_boughtPaid[from] * given / bought;
        ghost_boughtFace[from] = bought - given;
    }

    function _cancellable(Payment storage p) private view returns (bool) {
        if (p.cancelled) return false;
        IVoucherTypes.PaymentRecord storage rec = p.record;
        if (ghost_nextSeq[rec.payer] - rec.seq > RING) return false; // overwritten in the ring
        if (rec.seq < ghost_refundedAtSeq[rec.payer]) return false; // closed by a refund
        return token.balanceOf(p.merchant) >= rec.amount;
    }

    function _cancel(Payment storage p) private {
        IVoucherTypes.PaymentRecord memory rec = p.record;
        _mayDecrease = p.merchant;
        vm.prank(p.merchant);
        token.cancelPayment(rec, rec.amount);
        p.cancelled = true;
        if (token.isPaymentOnRecord(p.merchant, rec)) {
            revert HandlerMismatch("still on record", 1, 0);
        }
        uint256 back = rec.fromGeneral - rec.cashback;
        ghost_cancelledOut[p.merchant] += rec.amount;
        ghost_cancelBack[rec.payer] += back;
        if (back > 0 && isCitizen[rec.payer]) {
            uint256 cap = token.rules().holdingCap;
            uint256 balance = token.balanceOf(rec.payer);
            ghost_holdingCeiling[rec.payer] = balance > cap ? balance : cap;
            ghost_overCapByCancel[rec.payer] = balance > cap;
        }
        uint256 value = rec.programAmounts.length > 0 ? rec.programAmounts[0] : 0;
        if (value == 0 || ghost_closed) return;
        ghost_spent -= value;
        if (currentTime < programExpiry) ghost_pocket[rec.payer] += value;
        else ghost_returnedAfterExpiry += value;
    }

    function _lastPaid() private returns (IVoucherTypes.PaymentRecord memory rec) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = logs.length; i > 0; --i) {
            Vm.Log memory log = logs[i - 1];
            if (log.emitter != address(token) || !PaidLogs.isPaid(log)) {
                continue;
            }
            PaidLogs.read(log, rec);
            return rec;
        }
        revert HandlerMismatch("no Paid event", 0, 1);
    }

    // ================================================================== internals: bookkeeping

    function _credit(uint256 pos, address recipient, uint256 amount) private {
        IVoucherTypes.Grant storage g = _leaves[pos];
        if (g.recipient != recipient || g.amount != amount) {
            revert HandlerMismatch("Granted differs from the leaf", pos, amount);
        }
        ++ghost_grantCount[pos];
        ghost_pocket[recipient] += amount;
        ghost_granted += amount;
    }

    function _addOtherIn(address holder, uint256 amount) private {
        uint256 total = ghost_otherIn[holder] + amount;
        ghost_otherIn[holder] = total > type(uint40).max ? type(uint40).max : total;
    }

    /// @dev A citizen's balance rose by sale, gift or cashback, each of which checks the cap.
    function _creditedBelowCap(address citizen, uint256 cap) private {
        ghost_holdingCeiling[citizen] = cap;
        ghost_overCapByCancel[citizen] = false;
    }

    function _check(string memory what, uint256 actual, uint256 expected) private pure {
        if (actual != expected) revert HandlerMismatch(what, actual, expected);
    }

    // ================================================================== internals: choices

    function _holder(uint256 seed) private view returns (address) {
        return _holders[seed % _holders.length];
    }

    /// @dev The first holder from `seed` on with general balance, or the zero address.
    function _holderWithBalance(uint256 seed) private view returns (address) {
        uint256 n = _holders.length;
        for (uint256 k = 0; k < n; ++k) {
            address h = _holders[(seed % n + k) % n];
            if (token.balanceOf(h) > 0) return h;
        }
        return address(0);
    }

    /// @dev The first merchant from `seed` on that may take purchased money.
    function _merchantBelowCap(uint256 seed, uint8 capTier) private view returns (address) {
        uint256 n = _merchants.length;
        for (uint256 k = 0; k < n; ++k) {
            address m = _merchants[(seed % n + k) % n];
            if (_tier[m] < capTier) return m;
        }
        return address(0);
    }

    function _live() private view returns (bool) {
        return !ghost_closed && currentTime >= programStart && currentTime < programExpiry;
    }

    function _grantable() private view returns (bool) {
        return !ghost_closed && currentTime < programExpiry;
    }

    /// @dev A payment from the general pocket the rules allow now, picked from the seeds (a
    /// holder with money, a merchant below its cap tier), with what it must do; `found` is false
    /// when there is no such pair yet.
    function _generalPayment(uint256 who, uint256 merchantSeed, uint256 amount)
        private
        view
        returns (Expected memory e, bool found)
    {
        address payer = _holderWithBalance(who);
        if (payer == address(0)) return (e, false);
        IVoucherTypes.Rules memory r = token.rules();
        address merchant = _merchantBelowCap(merchantSeed, r.revenueCapTier);
        if (merchant == address(0)) return (e, false);
        uint256 max = _institutionCapped(payer, token.balanceOf(payer), r);
        // A quarter of payments spend most of the balance, so refunds become possible.
        amount = amount % 4 == 0 ? _bound(amount, max - max / 5, max) : _bound(amount, 1, max);
        return (_expect(payer, merchant, amount, false, 0, r), true);
    }

    /// @dev The payer's EIP-712 signature, over the type and domain a wallet pins.
    function _signPayment(IVoucherTypes.SignedPayment memory p)
        private
        view
        returns (IVoucherTypes.PaymentSignature memory)
    {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(_keyOf[p.payer], SignedPayments.digest(address(token), p));
        return SignedPayments.compact(v, r, s);
    }

    function _programIds() private view returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = programId;
    }

    function _paymentId(Expected memory e) private view returns (bytes32) {
        return keccak256(abi.encode(e.payer, e.merchant, e.amount, ghost_nextSeq[e.payer]));
    }

    function _institutionCapped(address payer, uint256 max, IVoucherTypes.Rules memory r)
        private
        view
        returns (uint256)
    {
        uint256 cap = r.institutionPaymentCap;
        if (payer == institution && cap != 0 && max > cap) return cap;
        return max;
    }

    /// @dev A price whose exact discount `(face - paid) / face` is within the rules' bounds.
    function _price(uint256 face, uint256 seed, IVoucherTypes.Rules memory r)
        private
        pure
        returns (bool ok, uint256 paid)
    {
        uint256 bps = _bound(seed, r.minDiscountBps, r.maxDiscountBps);
        uint256 off = face * bps / BPS;
        if (off * BPS < face * r.minDiscountBps) off = (face * r.minDiscountBps + BPS - 1) / BPS;
        ok = off <= face && off * BPS >= face * r.minDiscountBps
            && off * BPS <= face * r.maxDiscountBps;
        paid = ok ? face - off : 0;
    }

    /// @dev Valid rules with caps scaled down (like the test's initial rules) so that caps bind
    /// within a short run; about a quarter take effect without delay.
    function _rulesFrom(uint256 seed) private pure returns (IVoucherTypes.Rules memory r) {
        uint256 s = seed;
        r.revenueCapTier = s % 5 == 0 ? 2 : 3;
        s = uint256(keccak256(abi.encode(s)));
        r.cashbackBpsTier0 = uint16(s % 1501);
        r.cashbackBpsTier1 = uint16((s >> 16) % 1001);
        r.cashbackBpsTier2 = uint16((s >> 32) % 701);
        r.cashbackBpsTier3 = 0;
        r.cashbackMonthlyBase = uint64(100_000 + (s >> 48) % 200_001);
        r.holdingCap = uint64(200_000 + (s >> 80) % 600_001);
        r.institutionPaymentCap = (s >> 112) % 4 == 0 ? 0 : uint64(100_000 + (s >> 114) % 200_001);
        r.minDiscountBps = uint16((s >> 144) % 501);
        r.maxDiscountBps = uint16(r.minDiscountBps + (s >> 160) % 1001);
        r.refundThresholdBps = uint16(6000 + (s >> 176) % 3001);
        r.giftEnabled = (s >> 192) % 5 != 0;
        r.changeDelay = (s >> 196) % 4 == 0 ? 0 : uint32((s >> 200) % 2 days + 1);
        r.monthlyPurchaseCap = uint64(150_000 + (s >> 224) % 350_001);
        s = uint256(keccak256(abi.encode(s)));
        r.giftSendCap = uint64(50_000 + s % 200_001);
        r.giftReceiveCap = uint64(100_000 + (s >> 64) % 300_001);
    }

    function _accountDigest(address h) private view returns (bytes32) {
        (uint256 a, uint256 b, uint256 c, uint256 d, uint256 e, uint256 f, uint256 g) =
            token.accountOf(h);
        return keccak256(abi.encode(a, b, c, d, e, f, g));
    }

    /// @dev Counts whole years, then months, from 1 January 1970 (or 2024, to save gas).
    function _kstYearMonth(uint256 timestamp) private pure returns (uint256 year, uint256 month) {
        uint256 day = (timestamp + 9 hours) / 1 days;
        year = 1970;
        if (day >= DAYS_1970_TO_2024) {
            day -= DAYS_1970_TO_2024;
            year = 2024;
        }
        while (true) {
            uint256 length = _isLeap(year) ? 366 : 365;
            if (day < length) break;
            day -= length;
            ++year;
        }
        month = 1;
        while (day >= _monthDays(year, month)) {
            day -= _monthDays(year, month);
            ++month;
        }
    }

    function _isLeap(uint256 year) private pure returns (bool) {
        return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    }

    function _monthDays(uint256 year, uint256 month) private pure returns (uint256) {
        if (month == 2) return _isLeap(year) ? 29 : 28;
        if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
        return 31;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }
}
