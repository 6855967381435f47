// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice The payment ring's hash: payments recorded under the legacy encoding (the whole
/// record `abi.encode`d, before the 12-word hash) stay cancellable after the upgrade.
contract VoucherRingHashTest is DongneFixture {
    // VoucherBase's ERC-7201 namespace and the `payments` field's slot in it
    // (contracts/layout/VoucherStorage.json).
    bytes32 private constant STORAGE_SLOT =
        0x2547453015b5cb138b32d1599510e64765648ffb8af8e58c7789137d1536f900;
    uint256 private constant PAYMENTS_FIELD = 9;
    uint256 private constant RING = 64;

    address internal citizen;
    address internal shop;

    function setUp() public override {
        super.setUp();
        citizen = newCitizen();
        shop = newMerchant(KSIC_RESTAURANT, 0);
        buy(citizen, 100_000);
    }

    function test_cancelPayment_legacyRingHash() public {
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 30_000);
        _storeLegacyHash(rec);
        assertTrue(token.isPaymentOnRecord(shop, rec), "legacy record found");

        vm.prank(shop);
        token.cancelPayment(rec, rec.amount);

        assertEq(token.balanceOf(citizen), 100_000, "payer: 73k + 30k - 3k cashback");
        assertEq(token.balanceOf(shop), 0, "merchant");
        assertFalse(token.isPaymentOnRecord(shop, rec), "off record");
    }

    function test_cancelPayment_legacyRingHashPartlyThenRest() public {
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 30_000);
        _storeLegacyHash(rec);

        vm.prank(shop);
        token.cancelPayment(rec, 10_000);
        rec.cancelled = 10_000; // rewritten under the current hash
        assertTrue(token.isPaymentOnRecord(shop, rec), "rest on record");
        vm.prank(shop);
        token.cancelPayment(rec, 20_000);

        assertEq(token.balanceOf(citizen), 100_000, "payer whole again");
        assertEq(token.balanceOf(shop), 0, "merchant");
    }

    function test_RevertWhen_cancelPaymentLegacyRecordTampered() public {
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 30_000);
        _storeLegacyHash(rec);
        rec.cashback = 0;
        vm.prank(shop);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherPaymentNotFound.selector, citizen, 0)
        );
        token.cancelPayment(rec, rec.amount);
    }

    function test_pay_writesTheCurrentRingHashNotTheLegacyOne() public {
        IVoucherTypes.PaymentRecord memory rec = payGeneralRecord(citizen, shop, 30_000);
        bytes32 stored = vm.load(address(token), _ringSlot(rec));
        assertTrue(stored != bytes32(0), "ring slot written");
        assertTrue(stored != keccak256(abi.encode(shop, rec)), "not the legacy encoding");
    }

    /// @dev Rewrites the ring slot as a payment made before the upgrade left it.
    function _storeLegacyHash(IVoucherTypes.PaymentRecord memory rec) private {
        vm.store(address(token), _ringSlot(rec), keccak256(abi.encode(shop, rec)));
    }

    function _ringSlot(IVoucherTypes.PaymentRecord memory rec) private pure returns (bytes32) {
        bytes32 ring = keccak256(abi.encode(rec.payer, uint256(STORAGE_SLOT) + PAYMENTS_FIELD));
        return bytes32(uint256(ring) + rec.seq % RING);
    }
}
