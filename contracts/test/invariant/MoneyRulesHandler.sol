// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IdentityRegistry} from "../../src/IdentityRegistry.sol";
import {IVoucherBase} from "../../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../../src/interfaces/IVoucherToken.sol";
import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {KstCalendar} from "../../src/libraries/KstCalendar.sol";
import {Vm} from "../utils/Vm.sol";
import {PaidLogs} from "../utils/PaidLogs.sol";

/// @notice Drives the money rules of one municipality (invoices and remote payment requests,
/// merchant-funded extras, platform payments, an excluded category, employee payments, partial
/// cancellations, reward programs, funding plans and wallet recovery) only with calls that must
/// succeed, or with `vm.expectRevert` and the exact error where the model says a call must
/// fail. Every payment and every partial cancellation is checked against a model of its parts
/// (balances, pockets, supply, cashback, fee, extra) when it happens; the invariants check the
/// running books.
contract MoneyRulesHandler {
    Vm private constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 private constant BPS = 10_000;
    uint256 private constant RING = 64;

    error HandlerMismatch(string what, uint256 actual, uint256 expected);

    struct Config {
        IVoucherToken token;
        IdentityRegistry registry;
        address operator;
        address cityAdmin;
        address issuer;
        address registrar;
        uint256 rewarderKey;
        address[] citizens; // the people paying
        address[] spares; // new wallets for recoveries
        address institution;
        address employee;
        address[] shops; // [restaurant (pockets ok), grocery, bar (excluded, pockets ok)]
        address platform;
        uint256 rewardProgramId;
        bytes32[] funders;
    }

    struct Payment {
        address merchant;
        IVoucherTypes.PaymentRecord record; // with `cancelled` as it stands
    }

    struct Snapshot {
        uint256 to;
        uint256 merchant;
        uint256 platform;
        uint256 pocket;
        uint256 supply;
        uint256 cashbackTotal;
        uint256 extraTotal;
    }

    struct Parts {
        uint256 general;
        uint256 cashback;
        uint256 fee;
        uint256 extra;
        uint256 pocket;
    }

    IVoucherToken public immutable token;
    IdentityRegistry private immutable _registry;
    address private immutable _operator;
    address private immutable _cityAdmin;
    address private immutable _issuer;
    address private immutable _registrar;
    uint256 private immutable _rewarderKey;
    address public immutable institution;
    address public immutable employee;
    address public immutable platform;
    uint256 public immutable rewardProgramId;
    uint256 public immutable dailyCap;
    uint256 public immutable monthlyCap;
    uint256 public immutable rewardBudget;
    uint256 public immutable rewardExpiry;

    address[] private _active; // citizens paying now (a recovered one is replaced)
    address[] private _spares;
    address[] private _holders; // every wallet that ever held money (lost ones too)
    address[] private _shops;
    bytes32[] private _funders;
    mapping(address => bool) private _allowsPocket;
    mapping(address lost => address to) public recoveredTo;
    address[] private _lost;
    address[] private _recoverable; // the original citizens not yet recovered

    uint256 public currentTime;

    // ------------------------------------------------------------------ ghosts
    uint256 public ghost_subsidy; // discount subsidy of every sale
    uint256 public ghost_cashback; // cashback minted, net of cancellations
    mapping(address => uint256) public ghost_extra; // per merchant, net of cancellations
    uint256 public ghost_rewarded;
    mapping(address => mapping(uint256 day => uint256)) public ghost_rewardDay;
    mapping(address => mapping(uint256 month => uint256)) public ghost_rewardMonth;
    uint256 public ghost_maxRewardDay;
    uint256 public ghost_maxRewardMonth;
    mapping(address => mapping(bytes32 => uint256)) public ghost_invoicePaid;
    uint256 public ghost_invoicesPaidTwice;
    uint256 public ghost_cancelledOverPayment;
    uint256 public ghost_recoveryMismatches;
    uint256 public ghost_pocketSpentNet; // reward pocket money spent, net of cancellations

    Payment[] private _payments;
    bytes32[] private _attestations;
    uint256 private _nonce;
    bool private _fundingPending;
    uint256 private _fundingAt;

    mapping(bytes32 action => uint256) public calls;

    constructor(Config memory c) {
        token = c.token;
        _registry = c.registry;
        _operator = c.operator;
        _cityAdmin = c.cityAdmin;
        _issuer = c.issuer;
        _registrar = c.registrar;
        _rewarderKey = c.rewarderKey;
        institution = c.institution;
        employee = c.employee;
        platform = c.platform;
        rewardProgramId = c.rewardProgramId;
        (dailyCap, monthlyCap) = c.token.rewardPolicyOf(c.rewardProgramId);
        IVoucherTypes.Program memory p = c.token.programOf(c.rewardProgramId);
        rewardBudget = p.budget;
        rewardExpiry = p.expiry;
        for (uint256 i = 0; i < c.citizens.length; ++i) {
            _active.push(c.citizens[i]);
            _holders.push(c.citizens[i]);
            _recoverable.push(c.citizens[i]);
        }
        for (uint256 i = 0; i < c.spares.length; ++i) {
            _spares.push(c.spares[i]);
            _holders.push(c.spares[i]);
        }
        _holders.push(c.institution);
        _shops = c.shops;
        _funders = c.funders;
        for (uint256 i = 0; i < c.shops.length; ++i) {
            _allowsPocket[c.shops[i]] = c.token
                .isProgramCategoryAllowed(
                    c.rewardProgramId, c.token.merchantOf(c.shops[i]).category
                );
        }
        currentTime = block.timestamp;
    }

    modifier step() {
        vm.warp(currentTime);
        _;
    }

    // ================================================================== sales

    function issue(uint256 who, uint256 face, uint256 discountBps) external step {
        address buyer = who % 4 == 3 ? institution : _active[who % _active.length];
        uint256 max = 300_000;
        if (buyer != institution) {
            IVoucherTypes.Rules memory r = token.rules();
            (uint256 purchased,,,,,,) = token.accountOf(buyer);
            uint256 balance = token.balanceOf(buyer);
            if (purchased >= r.monthlyPurchaseCap || balance >= r.holdingCap) return;
            max = _min(max, _min(r.monthlyPurchaseCap - purchased, r.holdingCap - balance));
        }
        face = _bound(face, 1, max);
        uint256 paid = face - face * _bound(discountBps, 0, 1000) / BPS;
        vm.prank(_issuer);
        token.issue(buyer, face, paid);
        ghost_subsidy += face - paid;
        ++calls["issue"];
    }

    // ================================================================== payments

    /// @notice A payment by a citizen or the institution at one of the shops, directly or
    /// through the platform, naming the reward pocket where the shop's category allows it,
    /// with a fresh invoice id or none; sometimes a replayed id, which must revert.
    function pay(uint256 who, uint256 shopSeed, uint256 amount, uint256 mode) external step {
        bool byInstitution = who % 5 == 4;
        address payer = byInstitution ? institution : _active[who % _active.length];
        address shop = _shops[shopSeed % _shops.length];
        if (mode % 7 == 6 && _payments.length > 0) {
            _replayInvoice(payer, shopSeed);
            return;
        }
        bool excluded = token.merchantOf(shop).excluded;
        bool usePocket = !byInstitution && _allowsPocket[shop] && _live() && (mode >> 1) % 2 == 0;
        uint256 available = excluded ? 0 : token.balanceOf(payer);
        if (usePocket) available += token.pocketOf(rewardProgramId, payer);
        if (byInstitution) available = _min(available, 300_000);
        if (available == 0) return;
        amount = _bound(amount, 1, available);
        address via = (mode >> 2) % 3 == 0 ? platform : address(0);
        bytes32 id = mode % 2 == 0 ? _freshId() : bytes32(0);
        uint256[] memory ids = usePocket ? _rewardIds() : new uint256[](0);
        _payAndCheck(payer, shop, amount, id, ids, via);
        ++calls[via == address(0) ? bytes32("pay") : bytes32("payThroughPlatform")];
    }

    /// @notice An employee pays a shop from the institution's balance within their own limit.
    function payAsEmployee(uint256 shopSeed, uint256 amount) external step {
        address shop = _shops[shopSeed % 2]; // the bar refuses purchased money
        IVoucherTypes.Employee memory e = token.employeeOf(employee);
        uint256 spent = e.month == uint16(KstCalendar.monthOf(currentTime)) ? e.monthSpent : 0;
        if (spent >= e.monthlyLimit) return;
        uint256 max = _min(token.balanceOf(institution), 300_000);
        // The limit counts what is charged (after the shop's extra): price * (1 - x) <= room.
        max = _min(max, e.monthlyLimit - spent);
        if (max == 0) return;
        amount = _bound(amount, 1, max);
        Snapshot memory before = _snapshot(institution, shop, address(0));
        uint256 extraBps = token.merchantOf(shop).extraBps;
        vm.recordLogs();
        vm.prank(employee);
        token.payAsEmployee(institution, shop, amount, _freshId());
        IVoucherTypes.PaymentRecord memory rec = _readRecord(vm.getRecordedLogs());
        _checkPaid(rec, before, institution, shop, address(0), amount, extraBps, 0, 0);
        _check("employee month", token.employeeOf(employee).monthSpent, spent + rec.amount);
        ++calls["payAsEmployee"];
    }

    /// @notice The merchant opens an invoice for one payer and an exact amount; it is paid as
    /// asked, or paid wrongly (amount, payer) or after its cancellation, which must revert.
    function invoice(uint256 who, uint256 shopSeed, uint256 amount, uint256 mode) external step {
        address payer = _active[who % _active.length];
        address shop = _shops[shopSeed % 2];
        uint256 balance = token.balanceOf(payer);
        if (balance < 2) return;
        amount = _bound(amount, 1, balance - 1);
        bytes32 id = _freshId();
        vm.prank(shop);
        token.createInvoice(id, payer, amount, uint40(currentTime + 1 hours));
        mode = mode % 4;
        if (mode == 0) {
            _payAndCheck(payer, shop, amount, id, new uint256[](0), address(0));
        } else if (mode == 1) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInvoiceAmountMismatch.selector, shop, id, amount, amount + 1
                )
            );
            vm.prank(payer);
            token.pay(shop, amount + 1, id, new uint256[](0));
        } else if (mode == 2) {
            address other = _active[(who % _active.length + 1) % _active.length];
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInvoiceWrongPayer.selector, shop, id, other
                )
            );
            vm.prank(other);
            token.pay(shop, amount, id, new uint256[](0));
        } else {
            vm.prank(shop);
            token.cancelInvoice(id);
            vm.expectRevert(
                abi.encodeWithSelector(IVoucherBase.VoucherInvoiceCancelled.selector, shop, id)
            );
            vm.prank(payer);
            token.pay(shop, amount, id, new uint256[](0));
        }
        ++calls["invoice"];
    }

    // ================================================================== cancellations

    /// @notice The merchant cancels part (or the rest) of a payment still on record; sometimes
    /// first tries more than is left, or its stale record, which must revert.
    function cancel(uint256 seed, uint256 amount, uint256 mode) external step {
        uint256 n = _payments.length;
        if (n == 0) return;
        uint256 i = n;
        for (uint256 k = 0; k < n && k < RING; ++k) {
            uint256 j = n - 1 - (seed % RING + k) % _min(n, RING);
            Payment storage c = _payments[j];
            if (c.record.cancelled < c.record.amount && _onRecord(c)) {
                i = j;
                break;
            }
        }
        if (i == n) return;
        Payment storage p = _payments[i];
        IVoucherTypes.PaymentRecord memory rec = p.record;
        uint256 left = rec.amount - rec.cancelled;
        if (mode % 4 == 1) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherCancelExceedsPayment.selector,
                    rec.payer,
                    rec.seq,
                    rec.amount + 1,
                    rec.amount
                )
            );
            vm.prank(p.merchant);
            token.cancelPayment(rec, left + 1);
        } else if (mode % 4 == 2 && rec.cancelled > 0) {
            IVoucherTypes.PaymentRecord memory stale = _copy(rec);
            stale.cancelled = 0;
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherPaymentNotFound.selector, rec.payer, rec.seq
                )
            );
            vm.prank(p.merchant);
            token.cancelPayment(stale, 1);
        }
        amount = mode % 4 == 3 ? left : _bound(amount, 1, left);
        _cancelAndCheck(p, amount);
        ++calls["cancel"];
    }

    // ================================================================== rewards

    /// @notice A REWARDER-signed reward submitted by anyone, cut to the caps and the budget;
    /// refused (RewardCapReached) when nothing is left; a replayed attestation is refused.
    function claimReward(uint256 who, uint256 amount, bool replay) external step {
        if (!_live()) return;
        if (replay && _attestations.length > 0) {
            IVoucherTypes.Reward memory old;
            old.attestationId = _attestations[amount % _attestations.length];
            old.recipient = _active[who % _active.length];
            old.amount = 1;
            bytes memory sig = _sign(old);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.RewardAlreadyPaid.selector, rewardProgramId, old.attestationId
                )
            );
            token.claimReward(rewardProgramId, old, sig);
            ++calls["claimRewardReplay"];
            return;
        }
        IVoucherTypes.Reward memory r;
        r.attestationId = keccak256(abi.encode("attestation", ++_nonce));
        r.recipient = _active[who % _active.length];
        r.amount = _bound(amount, 1, 400);
        uint256 expected = _rewardRoom(r.recipient, r.amount);
        bytes memory signature = _sign(r);
        if (expected == 0) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.RewardCapReached.selector, rewardProgramId, r.recipient
                )
            );
            token.claimReward(rewardProgramId, r, signature);
            ++calls["claimRewardCapped"];
            return;
        }
        uint256 pocket = token.pocketOf(rewardProgramId, r.recipient);
        uint256 paid = token.claimReward(rewardProgramId, r, signature);
        _check("reward paid", paid, expected);
        _check("reward pocket", token.pocketOf(rewardProgramId, r.recipient), pocket + paid);
        _booked(r.recipient, paid);
        _attestations.push(r.attestationId);
        ++calls["claimReward"];
    }

    /// @notice A REWARDER pushes a batch with one used attestation (skipped) and two new ones.
    function rewardBatch(uint256 who, uint256 a, uint256 b) external step {
        if (!_live() || _attestations.length == 0) return;
        IVoucherTypes.Reward[] memory batch = new IVoucherTypes.Reward[](3);
        batch[0].attestationId = _attestations[a % _attestations.length];
        batch[0].recipient = _active[who % _active.length];
        batch[0].amount = 1;
        uint256 expectedCount = 0;
        for (uint256 i = 1; i < 3; ++i) {
            batch[i].attestationId = keccak256(abi.encode("attestation", ++_nonce));
            batch[i].recipient = _active[(who % _active.length + i) % _active.length];
            batch[i].amount = _bound(i == 1 ? a : b, 1, 300);
        }
        uint256[] memory expected = new uint256[](3);
        // Model the batch in order (two rewards may go to one person).
        for (uint256 i = 1; i < 3; ++i) {
            expected[i] = _rewardRoom(batch[i].recipient, batch[i].amount);
            if (expected[i] > 0) ++expectedCount;
            _booked(batch[i].recipient, expected[i]);
            _attestations.push(batch[i].attestationId);
        }
        vm.prank(vm.addr(_rewarderKey));
        uint256 count = token.rewardBatch(rewardProgramId, batch);
        _check("batch paid count", count, expectedCount);
        ++calls["rewardBatch"];
    }

    // ================================================================== recovery

    /// @notice A registrar recovers an active citizen to a spare wallet; after the delay the
    /// token moves everything. Balances, pockets and supply are conserved.
    function recover(uint256 who) external step {
        // A wallet that was itself a recovery's target is never recovered again: the token
        // sends a lost wallet's cancellations to its first new wallet only (see the report).
        if (_spares.length == 0 || _recoverable.length == 0) return;
        uint256 r = who % _recoverable.length;
        address lost = _recoverable[r];
        _recoverable[r] = _recoverable[_recoverable.length - 1];
        _recoverable.pop();
        uint256 slot = 0;
        while (_active[slot] != lost) ++slot;
        address to = _spares[_spares.length - 1];
        uint256 balances = _sumBalances();
        uint256 pockets = _sumPockets();
        uint256 supply = token.totalSupply();
        uint256 lostBalance = token.balanceOf(lost);
        uint256 toBalance = token.balanceOf(to);
        vm.prank(_operator);
        _registry.startRecovery(lost, to);
        currentTime += _registry.recoveryDelay();
        vm.warp(currentTime);
        _registry.finalizeRecovery(lost);
        uint256[] memory ids = _rewardIds();
        token.recoverWallet(lost, ids);
        if (
            _sumBalances() != balances || _sumPockets() != pockets || token.totalSupply() != supply
                || token.balanceOf(lost) != 0 || token.pocketOf(rewardProgramId, lost) != 0
                || token.balanceOf(to) != toBalance + lostBalance
        ) ++ghost_recoveryMismatches;
        _spares.pop();
        _active[slot] = to;
        recoveredTo[lost] = to;
        _lost.push(lost);
        ++calls["recover"];
    }

    // ================================================================== terms and plans

    /// @notice A shop changes its own extra discount, or the registrar the platform's fee.
    function setTerms(uint256 shopSeed, uint256 bps, bool fee) external step {
        if (fee) {
            vm.prank(_registrar);
            token.setPlatform(platform, true, uint16(_bound(bps, 0, 2000)));
        } else {
            address shop = _shops[shopSeed % _shops.length];
            vm.prank(shop);
            token.setExtraDiscount(uint16(_bound(bps, 0, 5000)));
        }
        ++calls["setTerms"];
    }

    /// @notice The city proposes a funding plan of two or three funders (effective after the
    /// rules' change delay), or activates the pending one once its time has come.
    function funding(uint256 seed) external step {
        if (_fundingPending) {
            if (currentTime < _fundingAt) return;
            token.activateFundingPlan();
            _fundingPending = false;
            ++calls["activateFundingPlan"];
            return;
        }
        uint256 n = 2 + seed % 2;
        uint256 first = (seed >> 8) % _funders.length; // consecutive names: distinct funders
        IVoucherTypes.FundingShare[] memory s = new IVoucherTypes.FundingShare[](n);
        uint256 subsidyLeft = BPS;
        uint256 cashbackLeft = BPS;
        for (uint256 i = 0; i < n; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            s[i].funder = _funders[(first + i) % _funders.length];
            uint256 sb = i == n - 1 ? subsidyLeft : _bound(seed, 0, subsidyLeft);
            uint256 cb = i == n - 1 ? cashbackLeft : _bound(seed >> 64, 0, cashbackLeft);
            s[i].subsidyBps = uint16(sb);
            s[i].cashbackBps = uint16(cb);
            subsidyLeft -= sb;
            cashbackLeft -= cb;
        }
        vm.prank(_cityAdmin);
        token.proposeFundingPlan(s);
        _fundingPending = true;
        _fundingAt = currentTime + token.rules().changeDelay;
        ++calls["proposeFundingPlan"];
    }

    function warp(uint256 seconds_) external {
        currentTime += _bound(seconds_, 1 minutes, 2 days);
        vm.warp(currentTime);
        ++calls["warp"];
    }

    // ================================================================== views for invariants

    function holders() external view returns (address[] memory) {
        return _holders;
    }

    function shops() external view returns (address[] memory) {
        return _shops;
    }

    function funders() external view returns (bytes32[] memory) {
        return _funders;
    }

    function lostWallets() external view returns (address[] memory) {
        return _lost;
    }

    function paymentCount() external view returns (uint256) {
        return _payments.length;
    }

    function paymentAt(uint256 i) external view returns (Payment memory) {
        return _payments[i];
    }

    function sumBalances() external view returns (uint256) {
        return _sumBalances();
    }

    function sumPockets() external view returns (uint256) {
        return _sumPockets();
    }

    // ================================================================== internals: payments

    function _payAndCheck(
        address payer,
        address shop,
        uint256 amount,
        bytes32 id,
        uint256[] memory ids,
        address via
    ) private {
        Snapshot memory before = _snapshot(payer, shop, via);
        uint256 extraBps = token.merchantOf(shop).extraBps;
        uint256 feeBps = via == address(0) ? 0 : token.merchantOf(via).platformFeeBps;
        uint256 pocket = ids.length > 0 ? token.pocketOf(rewardProgramId, payer) : 0;
        vm.recordLogs();
        vm.prank(payer);
        if (via == address(0)) token.pay(shop, amount, id, ids);
        else token.payThroughPlatform(via, shop, amount, id, ids);
        IVoucherTypes.PaymentRecord memory rec = _readRecord(vm.getRecordedLogs());
        _checkPaid(rec, before, payer, shop, via, amount, extraBps, feeBps, pocket);
        if (id != bytes32(0)) {
            if (++ghost_invoicePaid[shop][id] > 1) ++ghost_invoicesPaidTwice;
            _check("invoice paid", token.isInvoicePaid(shop, id, amount) ? 1 : 0, 1);
        }
    }

    /// @dev The `Paid` record against the model and the balances' movement.
    function _checkPaid(
        IVoucherTypes.PaymentRecord memory rec,
        Snapshot memory before,
        address payer,
        address shop,
        address via,
        uint256 price,
        uint256 extraBps,
        uint256 feeBps,
        uint256 pocket
    ) private {
        uint256 extra = price * extraBps / BPS;
        _check("extra", rec.extra, extra);
        _check("amount", rec.amount, price - extra);
        _check("fee", rec.fee, rec.amount * feeBps / BPS);
        uint256 take = _min(pocket, rec.amount);
        _check("pocket take", rec.programIds.length > 0 ? rec.programAmounts[0] : 0, take);
        _check("fromGeneral", rec.fromGeneral, rec.amount - take);
        Snapshot memory now_ = _snapshot(payer, shop, via);
        _check("payer", now_.to + rec.fromGeneral, before.to + rec.cashback);
        _check("shop", now_.merchant, before.merchant + rec.amount - rec.fee);
        _check("platform", now_.platform, before.platform + rec.fee);
        _check("pocket", now_.pocket + take, before.pocket);
        _check("supply", now_.supply + rec.fromGeneral, before.supply + rec.amount + rec.cashback);
        _check("cashback total", now_.cashbackTotal, before.cashbackTotal + rec.cashback);
        _check("extraTotal", now_.extraTotal, before.extraTotal + extra);
        ghost_cashback += rec.cashback;
        ghost_extra[shop] += extra;
        ghost_pocketSpentNet += take;
        Payment storage p = _payments.push();
        p.merchant = shop;
        p.record = rec;
    }

    function _cancelAndCheck(Payment storage p, uint256 amount) private {
        IVoucherTypes.PaymentRecord memory rec = p.record;
        address to = recoveredTo[rec.payer];
        if (to == address(0)) to = rec.payer;
        Parts memory e = _parts(rec, rec.cancelled, rec.cancelled + amount);
        Snapshot memory before = _snapshot(to, p.merchant, rec.platform);
        vm.prank(p.merchant);
        token.cancelPayment(rec, amount);
        _checkCancelled(before, _snapshot(to, p.merchant, rec.platform), e, amount);
        ghost_cashback -= e.cashback;
        ghost_extra[p.merchant] -= e.extra;
        ghost_pocketSpentNet -= e.pocket;
        p.record.cancelled += amount;
        if (p.record.cancelled > p.record.amount) ++ghost_cancelledOverPayment;
        bool open = p.record.cancelled < p.record.amount;
        _check(
            "cancel: on record", token.isPaymentOnRecord(p.merchant, p.record) ? 1 : 0, open ? 1 : 0
        );
    }

    function _checkCancelled(
        Snapshot memory before,
        Snapshot memory now_,
        Parts memory e,
        uint256 amount
    ) private view {
        _check("cancel: to", now_.to + e.cashback, before.to + e.general);
        _check("cancel: merchant", now_.merchant + amount - e.fee, before.merchant);
        _check("cancel: platform", now_.platform + e.fee, before.platform);
        bool restores = currentTime < rewardExpiry;
        _check("cancel: pocket", now_.pocket, before.pocket + (restores ? e.pocket : 0));
        _check("cancel: supply", now_.supply + amount, before.supply + e.general - e.cashback);
        _check("cancel: cashback", now_.cashbackTotal + e.cashback, before.cashbackTotal);
        _check("cancel: extra", now_.extraTotal + e.extra, before.extraTotal);
    }

    /// @dev The spec of a partial cancellation of (before, upTo]: cumulative parts, general
    /// money first, then the pocket; cashback over the general part, fee and extra over the
    /// amount, each rounded down cumulatively.
    function _parts(IVoucherTypes.PaymentRecord memory r, uint256 before, uint256 upTo)
        private
        pure
        returns (Parts memory e)
    {
        uint256 g0 = _min(before, r.fromGeneral);
        uint256 g1 = _min(upTo, r.fromGeneral);
        e.general = g1 - g0;
        if (r.fromGeneral > 0) {
            e.cashback = r.cashback * g1 / r.fromGeneral - r.cashback * g0 / r.fromGeneral;
        }
        e.fee = r.fee * upTo / r.amount - r.fee * before / r.amount;
        e.extra = r.extra * upTo / r.amount - r.extra * before / r.amount;
        if (r.programAmounts.length > 0) e.pocket = (upTo - g1) - (before - g0);
    }

    function _replayInvoice(address payer, uint256 seed) private {
        for (uint256 k = 0; k < _payments.length; ++k) {
            Payment storage p = _payments[(seed % _payments.length + k) % _payments.length];
            bytes32 id = p.record.paymentId;
            if (id == bytes32(0)) continue;
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherInvoiceAlreadyPaid.selector, p.merchant, id
                )
            );
            // The same id at the same price: an id never opened is single use per amount (a
            // 1-won squat with it must not block the real payment), an opened one for any.
            vm.prank(payer);
            token.pay(p.merchant, p.record.amount + p.record.extra, id, new uint256[](0));
            ++calls["replayInvoice"];
            return;
        }
    }

    function _onRecord(Payment storage p) private view returns (bool) {
        uint256 next = _nextSeq(p.record.payer);
        return next - p.record.seq <= RING;
    }

    function _nextSeq(address payer) private view returns (uint256 next) {
        (,,,,,, next) = token.accountOf(payer);
    }

    function _readRecord(Vm.Log[] memory logs)
        private
        view
        returns (IVoucherTypes.PaymentRecord memory rec)
    {
        bool found;
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter != address(token)) continue;
            bytes32 topic = log.topics[0];
            if (PaidLogs.isPaid(log)) {
                found = true;
                PaidLogs.read(log, rec);
            } else if (topic == IVoucherBase.MerchantFunded.selector) {
                (, rec.extra) = abi.decode(log.data, (uint256, uint256));
            } else if (topic == IVoucherBase.PlatformPayment.selector) {
                rec.platform = address(uint160(uint256(log.topics[2])));
                (, rec.fee) = abi.decode(log.data, (uint256, uint256));
            }
        }
        if (!found) revert HandlerMismatch("no Paid event", 0, 1);
    }

    function _snapshot(address holder, address shop, address via)
        private
        view
        returns (Snapshot memory s)
    {
        s.to = token.balanceOf(holder);
        s.merchant = token.balanceOf(shop);
        s.platform = via == address(0) ? 0 : token.balanceOf(via);
        s.pocket = token.pocketOf(rewardProgramId, holder);
        s.supply = token.totalSupply();
        (, s.cashbackTotal) = token.fundingTotals();
        s.extraTotal = token.merchantOf(shop).extraTotal;
    }

    // ================================================================== internals: rewards

    /// @dev What a reward of `amount` to `who` pays now: cut to the day's and month's caps and
    /// the budget left (as the handler counts them, independently of the token's counters).
    function _rewardRoom(address who, uint256 amount) private view returns (uint256) {
        uint256 day = (currentTime + 9 hours) / 1 days;
        uint256 month = KstCalendar.monthOf(currentTime);
        uint256 room = _min(amount, dailyCap - ghost_rewardDay[who][day]);
        room = _min(room, monthlyCap - ghost_rewardMonth[who][month]);
        return _min(room, rewardBudget - ghost_rewarded);
    }

    function _booked(address who, uint256 paid) private {
        uint256 day = (currentTime + 9 hours) / 1 days;
        uint256 month = KstCalendar.monthOf(currentTime);
        uint256 d = ghost_rewardDay[who][day] += paid;
        uint256 m = ghost_rewardMonth[who][month] += paid;
        ghost_rewarded += paid;
        if (d > ghost_maxRewardDay) ghost_maxRewardDay = d;
        if (m > ghost_maxRewardMonth) ghost_maxRewardMonth = m;
    }

    function _sign(IVoucherTypes.Reward memory r) private view returns (bytes memory) {
        (uint8 v, bytes32 rs, bytes32 s) =
            vm.sign(_rewarderKey, token.rewardDigest(rewardProgramId, r));
        return abi.encodePacked(rs, s, v);
    }

    // ================================================================== internals: misc

    function _live() private view returns (bool) {
        return currentTime < rewardExpiry;
    }

    function _rewardIds() private view returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = rewardProgramId;
    }

    function _freshId() private returns (bytes32) {
        return keccak256(abi.encode("invoice", ++_nonce));
    }

    function _sumBalances() private view returns (uint256 sum) {
        for (uint256 i = 0; i < _holders.length; ++i) {
            sum += token.balanceOf(_holders[i]);
        }
        for (uint256 i = 0; i < _shops.length; ++i) {
            sum += token.balanceOf(_shops[i]);
        }
        sum += token.balanceOf(platform);
    }

    function _sumPockets() private view returns (uint256 sum) {
        for (uint256 i = 0; i < _holders.length; ++i) {
            sum += token.pocketOf(rewardProgramId, _holders[i]);
        }
    }

    function _copy(IVoucherTypes.PaymentRecord memory rec)
        private
        pure
        returns (IVoucherTypes.PaymentRecord memory)
    {
        return abi.decode(abi.encode(rec), (IVoucherTypes.PaymentRecord));
    }

    function _check(string memory what, uint256 actual, uint256 expected) private pure {
        if (actual != expected) revert HandlerMismatch(what, actual, expected);
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }
}
