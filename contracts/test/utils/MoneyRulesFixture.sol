// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "../../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {DongneFixture} from "./DongneFixture.sol";
import {MerkleBuilder} from "./MerkleBuilder.sol";
import {Vm} from "./Vm.sol";
import {PaidLogs} from "./PaidLogs.sol";

/// @notice State snapshots and skips (Foundry cheatcodes the shared Vm interface does not
/// declare).
interface VmSnapshots {
    function snapshotState() external returns (uint256 snapshotId);
    function revertToState(uint256 snapshotId) external returns (bool success);
    function skip(bool skipTest) external;
}

/// @notice Helpers for the money-rules suites: full payment records (with the merchant-funded
/// extra, platform and fee read back from their events), cancellations, funding plans and
/// one-leaf policy programs.
abstract contract MoneyRulesFixture is DongneFixture {
    using MerkleBuilder for MerkleBuilder.Tree;

    VmSnapshots internal constant snap = VmSnapshots(address(vm));
    uint256 internal constant BPS = 10_000;

    uint256 private _paymentIds;

    error AssertionFailedInt(string what, int256 left, int256 right);

    function assertEqInt(int256 left, int256 right, string memory what) internal pure {
        if (left != right) revert AssertionFailedInt(what, left, right);
    }

    /// @dev A fresh non-zero payment id (a non-zero id is a single-use invoice).
    function freshId() internal returns (bytes32) {
        return keccak256(abi.encode("money-rules payment", ++_paymentIds));
    }

    function ids1(uint256 a) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](1);
        ids[0] = a;
    }

    function ids2(uint256 a, uint256 b) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
    }

    /// @dev Pays directly (platform 0) or through `platform`, returning the full record.
    function payRecord(
        address payer,
        address shop,
        uint256 amount,
        bytes32 paymentId,
        uint256[] memory programIds,
        address platform
    ) internal returns (IVoucherTypes.PaymentRecord memory rec) {
        vm.recordLogs();
        vm.prank(payer);
        uint256 seq = platform == address(0)
            ? token.pay(shop, amount, paymentId, programIds)
            : token.payThroughPlatform(platform, shop, amount, paymentId, programIds);
        rec = readRecord(vm.getRecordedLogs());
        assertEq(rec.seq, seq, "seq returned == seq logged");
    }

    function payRecord(address payer, address shop, uint256 amount)
        internal
        returns (IVoucherTypes.PaymentRecord memory)
    {
        return payRecord(payer, shop, amount, freshId(), noPrograms(), address(0));
    }

    /// @dev An employee's payment from its institution's balance, with its record.
    function payAsEmployeeRecord(
        address employee,
        address institution,
        address shop,
        uint256 amount
    ) internal returns (IVoucherTypes.PaymentRecord memory rec) {
        vm.recordLogs();
        vm.prank(employee);
        uint256 seq = token.payAsEmployee(institution, shop, amount, freshId());
        rec = readRecord(vm.getRecordedLogs());
        assertEq(rec.seq, seq, "seq returned == seq logged");
    }

    /// @dev The record of the last payment in `logs`: `Paid`, plus `MerchantFunded` (extra) and
    /// `PlatformPayment` (platform, fee) when the payment had them.
    function readRecord(Vm.Log[] memory logs)
        internal
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
        if (!found) revert AssertionFailed("no Paid event");
    }

    /// @dev The merchant cancels `amount` of `rec`; returns (a copy of) the record as it now
    /// stands, leaving `rec` as it was.
    function cancelPart(address shop, IVoucherTypes.PaymentRecord memory rec, uint256 amount)
        internal
        returns (IVoucherTypes.PaymentRecord memory)
    {
        vm.prank(shop);
        token.cancelPayment(rec, amount);
        IVoucherTypes.PaymentRecord memory rest = copyRecord(rec);
        rest.cancelled += amount;
        return rest;
    }

    /// @dev A deep copy: memory structs are references, and a stale record must stay stale.
    function copyRecord(IVoucherTypes.PaymentRecord memory rec)
        internal
        pure
        returns (IVoucherTypes.PaymentRecord memory)
    {
        return abi.decode(abi.encode(rec), (IVoucherTypes.PaymentRecord));
    }

    function share(bytes32 funder, uint16 subsidyBps, uint16 cashbackBps)
        internal
        pure
        returns (IVoucherTypes.FundingShare memory)
    {
        return IVoucherTypes.FundingShare(funder, subsidyBps, cashbackBps);
    }

    /// @dev Proposes `shares` and activates them after the change delay.
    function applyFundingPlan(IVoucherTypes.FundingShare[] memory shares)
        internal
        returns (uint256 version)
    {
        uint256 delay = token.rules().changeDelay;
        vm.prank(cityAdmin);
        version = token.proposeFundingPlan(shares);
        if (delay > 0) {
            vm.warp(block.timestamp + delay);
            token.activateFundingPlan();
        }
    }

    /// @dev A one-leaf policy program granting `amount` to `holder`, live now for 30 days.
    function singleProgram(address holder, uint256 amount, uint24[] memory categories)
        internal
        returns (uint256 id)
    {
        IVoucherTypes.Grant[] memory g = new IVoucherTypes.Grant[](1);
        g[0] = MerkleBuilder.grant(0, holder, amount);
        IVoucherTypes.ProgramParams memory p;
        p.root = MerkleBuilder.build(g).root();
        p.budget = uint64(amount);
        p.start = uint40(block.timestamp);
        p.expiry = uint40(block.timestamp + 30 days);
        p.revenueCapWaived = true;
        p.categories = categories;
        p.ref = "one-leaf";
        vm.prank(manager);
        id = token.createProgram(p);
        vm.prank(holder);
        token.claim(id, 0, amount, new bytes32[](0));
    }

    function noCategories() internal pure returns (uint24[] memory) {
        return new uint24[](0);
    }

    function categories1(uint24 a) internal pure returns (uint24[] memory c) {
        c = new uint24[](1);
        c[0] = a;
    }

    /// @dev A sale at par, so any face value passes the discount bounds.
    function buyAtPar(address buyer, uint256 face) internal {
        vm.prank(issuer);
        token.issue(buyer, face, face);
    }

    function setStatus(address merchant, IVoucherTypes.MerchantStatus status) internal {
        vm.prank(registrar);
        token.setMerchantStatus(merchant, status, 0);
    }

    function makePlatform(address merchant, uint16 feeBps) internal {
        vm.prank(registrar);
        token.setPlatform(merchant, true, feeBps);
    }

    function setExtra(address merchant, uint16 extraBps) internal {
        vm.prank(merchant);
        token.setExtraDiscount(extraBps);
    }
}
