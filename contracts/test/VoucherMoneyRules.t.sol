// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../src/interfaces/IVoucherTypes.sol";
import {MoneyRulesFixture} from "./utils/MoneyRulesFixture.sol";

/// @notice Money rules of issue 13: single-use invoices and remote payment requests,
/// merchant-funded extra discounts, platform payments, excluded categories, institution limits
/// and per-institution blocked categories, employees spending from their institution.
contract VoucherMoneyRulesTest is MoneyRulesFixture {
    uint256 internal constant NOV30_2359_KST = 1_796_050_740;
    uint256 internal constant DEC01_0000_KST = 1_796_050_800;

    address internal citizen;
    address internal friend;
    address internal institution;
    address internal otherInstitution;
    address internal employee;
    address internal shop0; // restaurant, tier 0: 10% cashback
    address internal shop1; // restaurant, tier 1: 7%
    address internal grocery; // tier 2: 5%
    address internal bar;
    address internal app; // a delivery app (platform)

    function setUp() public override {
        super.setUp();
        citizen = newCitizen();
        friend = newCitizen();
        employee = newCitizen();
        institution = newInstitution();
        otherInstitution = newInstitution();
        shop0 = newMerchant(KSIC_RESTAURANT, 0);
        shop1 = newMerchant(KSIC_RESTAURANT, 1);
        grocery = newMerchant(KSIC_GROCERY, 2);
        bar = newMerchant(KSIC_BAR, 0);
        app = newMerchant(KSIC_GROCERY, 0);
        buy(citizen, 500_000);
        buy(friend, 500_000);
        buy(institution, 2_000_000);
    }

    // ================================================================== invoices: single use

    function test_invoice_paymentIdIsSingleUsePerMerchant() public {
        bytes32 id = keccak256("table-7");
        vm.prank(citizen);
        token.pay(shop0, 10_000, id, noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(citizen);
        token.pay(shop0, 10_000, id, noPrograms());
        // Another payer cannot reuse it either.
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(friend);
        token.pay(shop0, 10_000, id, noPrograms());
        // The same id at another merchant is another invoice.
        vm.prank(citizen);
        token.pay(shop1, 10_000, id, noPrograms());
        assertEq(token.balanceOf(shop0), 10_000, "paid once");
        assertEq(token.balanceOf(shop1), 10_000, "other merchant");
    }

    function test_invoice_zeroIdIsNeverAnInvoice() public {
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(citizen);
            token.pay(shop0, 1000, bytes32(0), noPrograms());
        }
        assertEq(token.balanceOf(shop0), 3000, "three plain payments");
        assertEq(
            uint256(token.invoiceOf(shop0, bytes32(0)).status),
            uint256(IVoucherTypes.InvoiceStatus.None),
            "no invoice state"
        );
    }

    function test_invoice_failedPaymentDoesNotUseTheId() public {
        bytes32 id = keccak256("order");
        address poor = newCitizen();
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInsufficientBalance.selector, poor, 0, 10_000
            )
        );
        vm.prank(poor);
        token.pay(shop0, 10_000, id, noPrograms());
        vm.prank(citizen);
        token.pay(shop0, 10_000, id, noPrograms());
    }

    function test_invoice_sharedByEveryPaymentPath() public {
        makePlatform(app, 100);
        bytes32 id = keccak256("delivery-1");
        vm.prank(citizen);
        token.payThroughPlatform(app, shop0, 10_000, id, noPrograms());
        // The invoice is the shop's: a direct payment of the same id is a second payment.
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(citizen);
        token.pay(shop0, 10_000, id, noPrograms());
        vm.prank(institution);
        token.setEmployee(employee, 100_000);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(employee);
        token.payAsEmployee(institution, shop0, 10_000, id);
    }

    /// @notice Replays a review finding: a stranger who reads a dynamic QR code and pays 1 won
    /// with its id first must not make the customer's real payment fail. A code never opened on
    /// chain is single use for its id and amount together.
    function test_invoice_aOneWonSquatDoesNotBlockTheRealPayment() public {
        bytes32 id = keccak256("counter-qr-42");
        vm.prank(friend);
        token.pay(shop0, 1, id, noPrograms());
        vm.prank(citizen);
        token.pay(shop0, 12_000, id, noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(citizen);
        token.pay(shop0, 12_000, id, noPrograms());
        assertEq(token.balanceOf(shop0), 12_001, "the squat and the real payment, once each");
    }

    /// @notice Replays a review finding: an id the merchant never opened on chain (a dynamic
    /// QR code) used to be spent by any payment carrying it, so a stranger paying 1 won first
    /// blocked the real payment. It is now single use for (id, amount), and `isInvoicePaid`
    /// answers for that pair; an invoice opened on chain is still single use whatever the amount.
    function test_isInvoicePaid_perIdAndAmountUnlessOpened() public {
        bytes32 id = keccak256("counter-qr-43");
        assertFalse(token.isInvoicePaid(shop0, id, 12_000), "nothing paid yet");
        vm.prank(friend);
        token.pay(shop0, 1, id, noPrograms());
        assertTrue(token.isInvoicePaid(shop0, id, 1), "the squat is paid");
        assertFalse(token.isInvoicePaid(shop0, id, 12_000), "the real price is not");
        vm.prank(citizen);
        token.pay(shop0, 12_000, id, noPrograms());
        assertTrue(token.isInvoicePaid(shop0, id, 12_000), "the real payment");
        assertFalse(token.isInvoicePaid(shop0, id, 12_001), "another amount");
        assertFalse(token.isInvoicePaid(shop1, id, 12_000), "another merchant");
        // Opened on chain: one payment, whatever it was, uses it.
        bytes32 opened = keccak256("order-44");
        vm.prank(shop0);
        token.createInvoice(opened, address(0), 0, 0);
        assertFalse(token.isInvoicePaid(shop0, opened, 5000), "open");
        vm.prank(friend);
        token.pay(shop0, 5000, opened, noPrograms());
        assertTrue(token.isInvoicePaid(shop0, opened, 5000), "paid");
        assertTrue(token.isInvoicePaid(shop0, opened, 7000), "paid whatever the amount");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, opened)
        );
        vm.prank(citizen);
        token.pay(shop0, 7000, opened, noPrograms());
    }

    function testFuzz_invoice_paidOnce(bytes32 id, uint256 amount, uint256 second) public {
        vm.assume(id != bytes32(0));
        amount = bound(amount, 1, 100_000);
        second = bound(second, 1, 100_000);
        vm.prank(citizen);
        token.pay(shop0, amount, id, noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(friend);
        token.pay(shop0, amount, id, noPrograms());
        vm.prank(friend);
        token.pay(shop1, second, id, noPrograms());
        assertEq(token.balanceOf(shop0), amount, "first payment only");
    }

    // ================================================================== invoices: opened ones

    function test_createInvoice_storesAndEmits() public {
        bytes32 id = keccak256("academy-fee-11");
        uint40 expiry = uint40(block.timestamp + 3 days);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.InvoiceCreated(shop0, id, citizen, 150_000, expiry);
        vm.prank(shop0);
        token.createInvoice(id, citizen, 150_000, expiry);
        IVoucherTypes.Invoice memory inv = token.invoiceOf(shop0, id);
        assertEq(uint256(inv.status), uint256(IVoucherTypes.InvoiceStatus.Open), "open");
        assertEq(inv.amount, 150_000, "amount");
        assertEq(inv.expiry, expiry, "expiry");
        assertEq(inv.payer, citizen, "payer");
    }

    function test_remotePaymentRequest_paidByItsPayerExactlyOnce() public {
        bytes32 id = keccak256("academy-fee-11");
        vm.prank(shop0);
        token.createInvoice(id, citizen, 150_000, uint40(block.timestamp + 3 days));
        vm.warp(block.timestamp + 3 days - 1);
        vm.prank(citizen);
        token.pay(shop0, 150_000, id, noPrograms());
        assertEq(token.balanceOf(shop0), 150_000, "paid");
        assertEq(
            uint256(token.invoiceOf(shop0, id).status),
            uint256(IVoucherTypes.InvoiceStatus.Paid),
            "status"
        );
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceAlreadyPaid.selector, shop0, id)
        );
        vm.prank(citizen);
        token.pay(shop0, 150_000, id, noPrograms());
    }

    function test_invoice_openToAnyoneAnyAmount() public {
        bytes32 id = keccak256("tip-jar");
        vm.prank(shop0);
        token.createInvoice(id, address(0), 0, 0);
        vm.warp(block.timestamp + 400 days);
        vm.prank(friend);
        token.pay(shop0, 1234, id, noPrograms());
        assertEq(token.balanceOf(shop0), 1234, "any payer, any amount, no expiry");
    }

    function test_RevertWhen_invoicePaidWrongAmount() public {
        bytes32 id = keccak256("inv");
        vm.prank(shop0);
        token.createInvoice(id, address(0), 10_000, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInvoiceAmountMismatch.selector, shop0, id, 10_000, 9999
            )
        );
        vm.prank(citizen);
        token.pay(shop0, 9999, id, noPrograms());
        vm.prank(citizen);
        token.pay(shop0, 10_000, id, noPrograms());
    }

    function test_RevertWhen_invoicePaidAtExpiry() public {
        bytes32 id = keccak256("inv");
        uint40 expiry = uint40(block.timestamp + 1 hours);
        vm.prank(shop0);
        token.createInvoice(id, address(0), 0, expiry);
        vm.warp(expiry);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceExpired.selector, shop0, id, expiry)
        );
        vm.prank(citizen);
        token.pay(shop0, 1000, id, noPrograms());
    }

    function test_RevertWhen_invoicePaidByAnotherPayer() public {
        bytes32 id = keccak256("inv");
        vm.prank(shop0);
        token.createInvoice(id, citizen, 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInvoiceWrongPayer.selector, shop0, id, friend
            )
        );
        vm.prank(friend);
        token.pay(shop0, 1000, id, noPrograms());
    }

    function test_RevertWhen_invoiceCancelledThenPaid() public {
        bytes32 id = keccak256("inv");
        vm.prank(shop0);
        token.createInvoice(id, citizen, 1000, 0);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.InvoiceCancelled(shop0, id);
        vm.prank(shop0);
        token.cancelInvoice(id);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceCancelled.selector, shop0, id)
        );
        vm.prank(citizen);
        token.pay(shop0, 1000, id, noPrograms());
    }

    function test_RevertWhen_createInvoiceIdUsed() public {
        bytes32 id = keccak256("inv");
        vm.prank(shop0);
        token.createInvoice(id, address(0), 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceExists.selector, shop0, id)
        );
        vm.prank(shop0);
        token.createInvoice(id, address(0), 0, 0);
        // Another merchant may open the same id.
        vm.prank(shop1);
        token.createInvoice(id, address(0), 0, 0);
    }

    function test_RevertWhen_cancelInvoiceNotOpen() public {
        bytes32 id = keccak256("inv");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceNotOpen.selector, shop0, id)
        );
        vm.prank(shop0);
        token.cancelInvoice(id);
        vm.prank(shop0);
        token.createInvoice(id, address(0), 0, 0);
        vm.prank(citizen);
        token.pay(shop0, 1000, id, noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceNotOpen.selector, shop0, id)
        );
        vm.prank(shop0);
        token.cancelInvoice(id);
        bytes32 other = keccak256("other");
        vm.prank(shop0);
        token.createInvoice(other, address(0), 0, 0);
        vm.prank(shop0);
        token.cancelInvoice(other);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceNotOpen.selector, shop0, other)
        );
        vm.prank(shop0);
        token.cancelInvoice(other);
        // Another merchant cannot cancel shop0's invoice: it names its own (unopened) one.
        bytes32 third = keccak256("third");
        vm.prank(shop0);
        token.createInvoice(third, address(0), 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvoiceNotOpen.selector, shop1, third)
        );
        vm.prank(shop1);
        token.cancelInvoice(third);
    }

    function test_RevertWhen_createInvoiceInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, citizen));
        vm.prank(citizen);
        token.createInvoice(keccak256("x"), address(0), 0, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvalidTerms.selector, bytes32("invoiceId"))
        );
        vm.prank(shop0);
        token.createInvoice(bytes32(0), address(0), 0, 0);
        uint256 tooMuch = uint256(type(uint48).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherInvalidAmount.selector, tooMuch));
        vm.prank(shop0);
        token.createInvoice(keccak256("x"), address(0), tooMuch, 0);
        uint40 past = uint40(block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInvoiceExpired.selector, shop0, keccak256("x"), past
            )
        );
        vm.prank(shop0);
        token.createInvoice(keccak256("x"), address(0), 0, past);
        setStatus(shop0, IVoucherTypes.MerchantStatus.Suspended);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantInactive.selector,
                shop0,
                IVoucherTypes.MerchantStatus.Suspended
            )
        );
        vm.prank(shop0);
        token.createInvoice(keccak256("x"), address(0), 0, 0);
    }

    function test_invoice_amountIsThePriceBeforeTheMerchantsDiscount() public {
        setExtra(shop0, 1000);
        bytes32 id = keccak256("inv");
        vm.prank(shop0);
        token.createInvoice(id, citizen, 20_000, 0);
        vm.prank(citizen);
        token.pay(shop0, 20_000, id, noPrograms());
        assertEq(token.balanceOf(shop0), 18_000, "charged the price less 10%");
    }

    // ================================================================== merchant-funded extras

    function test_setExtraDiscount_byTheMerchant() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantTermsSet(shop0, 1500, false, 0);
        setExtra(shop0, 1500);
        assertEq(token.merchantOf(shop0).extraBps, 1500, "extraBps");
        setExtra(shop0, 5000);
        assertEq(token.merchantOf(shop0).extraBps, 5000, "at most half");
    }

    function test_RevertWhen_setExtraDiscountInvalid() public {
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherInvalidTerms.selector, bytes32("extraBps"))
        );
        vm.prank(shop0);
        token.setExtraDiscount(5001);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, citizen));
        vm.prank(citizen);
        token.setExtraDiscount(100);
    }

    function test_extraDiscount_payerAndMerchantBothGetTheDiscountedAmount() public {
        setExtra(shop0, 1000);
        bytes32 id = freshId();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantFunded(shop0, citizen, 0, 2000);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Paid(citizen, shop0, id, 0, 18_000, 18_000, 1800);
        vm.prank(citizen);
        token.pay(shop0, 20_000, id, noPrograms());
        assertEq(token.balanceOf(citizen), 500_000 - 18_000 + 1800, "charged 18k, 10% cashback");
        assertEq(token.balanceOf(shop0), 18_000, "merchant receives the same");
        assertEq(token.merchantOf(shop0).extraTotal, 2000, "extraTotal");
        assertEq(token.totalSupply(), 3_000_000 + 1800, "supply: only cashback is new");
    }

    function test_extraDiscount_cancellationProRatesItBack() public {
        setExtra(shop0, 1000);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 20_000, freshId(), noPrograms(), address(0));
        assertEq(rec.extra, 2000, "extra");
        rec = cancelPart(shop0, rec, 9000);
        assertEq(token.merchantOf(shop0).extraTotal, 1000, "half the payment: half the extra");
        rec = cancelPart(shop0, rec, 9000);
        assertEq(token.merchantOf(shop0).extraTotal, 0, "all of it back");
        assertEq(token.balanceOf(citizen), 500_000, "payer whole");
        assertEq(token.balanceOf(shop0), 0, "merchant");
    }

    function test_extraDiscount_reRegistrationResetsTermsButKeepsTotal() public {
        setExtra(shop0, 1000);
        payRecord(citizen, shop0, 20_000);
        setStatus(shop0, IVoucherTypes.MerchantStatus.Cancelled);
        vm.prank(registrar);
        token.registerMerchant(shop0, SIHEUNG, KSIC_RESTAURANT, 0, false);
        IVoucherTypes.Merchant memory m = token.merchantOf(shop0);
        assertEq(m.extraBps, 0, "terms start over");
        assertEq(m.extraTotal, 2000, "running total kept");
    }

    function testFuzz_extraDiscount(uint16 bps, uint256 price) public {
        bps = uint16(bound(bps, 0, 5000));
        price = bound(price, 1, 400_000);
        setExtra(shop1, bps);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop1, price, freshId(), noPrograms(), address(0));
        uint256 extra = price * bps / BPS;
        assertEq(rec.extra, extra, "extra");
        assertEq(rec.amount, price - extra, "amount charged");
        assertEq(token.balanceOf(shop1), price - extra, "merchant");
        assertEq(token.balanceOf(citizen), 500_000 - (price - extra) + rec.cashback, "payer");
        assertEq(token.merchantOf(shop1).extraTotal, extra, "extraTotal");
    }

    // ================================================================== platforms

    function test_setPlatform_byRegistrar() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantTermsSet(app, 0, true, 100);
        makePlatform(app, 100);
        IVoucherTypes.Merchant memory m = token.merchantOf(app);
        assertTrue(m.platform, "platform");
        assertEq(m.platformFeeBps, 100, "fee");
        makePlatform(app, 2000);
        assertEq(token.merchantOf(app).platformFeeBps, 2000, "at most a fifth");
        vm.prank(registrar);
        token.setPlatform(app, false, 0);
        assertFalse(token.merchantOf(app).platform, "no longer");
    }

    function test_RevertWhen_setPlatformInvalid() public {
        bytes memory invalid = abi.encodeWithSelector(
            IVoucherBase.VoucherInvalidTerms.selector, bytes32("platformFeeBps")
        );
        vm.expectRevert(invalid);
        vm.prank(registrar);
        token.setPlatform(app, true, 2001);
        vm.expectRevert(invalid);
        vm.prank(registrar);
        token.setPlatform(app, false, 100);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, citizen));
        vm.prank(registrar);
        token.setPlatform(citizen, true, 100);
        bytes32 role = keccak256("MERCHANT_REGISTRAR_ROLE");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, app, role
            )
        );
        vm.prank(app);
        token.setPlatform(app, true, 100);
    }

    function test_payThroughPlatform_splitsTheFee() public {
        makePlatform(app, 100);
        bytes32 id = freshId();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PlatformPayment(citizen, app, shop0, 0, 500);
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.Paid(citizen, shop0, id, 0, 50_000, 50_000, 5000);
        vm.prank(citizen);
        uint256 seq = token.payThroughPlatform(app, shop0, 50_000, id, noPrograms());
        assertEq(seq, 0, "seq");
        assertEq(token.balanceOf(shop0), 49_500, "shop: amount less the fee");
        assertEq(token.balanceOf(app), 500, "platform: the fee");
        assertEq(token.balanceOf(citizen), 455_000, "payer: 50k less 5k cashback");
    }

    /// @notice A platform may charge no fee; the payment still names it (`PlatformPayment`), so
    /// the shop can rebuild the record from the events and cancel it.
    function test_payThroughPlatform_zeroFeeStillNamesThePlatform() public {
        makePlatform(app, 0);
        bytes32 id = freshId();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PlatformPayment(citizen, app, shop0, 0, 0);
        vm.prank(citizen);
        token.payThroughPlatform(app, shop0, 10_000, id, noPrograms());
        assertEq(token.balanceOf(shop0), 10_000, "the whole amount");
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 5000, freshId(), noPrograms(), app);
        assertEq(rec.platform, app, "record names the platform");
        assertTrue(token.isPaymentOnRecord(shop0, rec), "rebuilt from the events");
        cancelPart(shop0, rec, 5000);
        assertEq(token.balanceOf(shop0), 10_000, "cancelled");
    }

    function test_RevertWhen_payThroughNonPlatform() public {
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotPlatform.selector, app));
        vm.prank(citizen);
        token.payThroughPlatform(app, shop0, 1000, freshId(), noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotPlatform.selector, address(0))
        );
        vm.prank(citizen);
        token.payThroughPlatform(address(0), shop0, 1000, freshId(), noPrograms());
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotPlatform.selector, friend));
        vm.prank(citizen);
        token.payThroughPlatform(friend, shop0, 1000, freshId(), noPrograms());
        makePlatform(app, 100);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotPlatform.selector, app));
        vm.prank(citizen);
        token.payThroughPlatform(app, app, 1000, freshId(), noPrograms());
        setStatus(app, IVoucherTypes.MerchantStatus.Suspended);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotPlatform.selector, app));
        vm.prank(citizen);
        token.payThroughPlatform(app, shop0, 1000, freshId(), noPrograms());
    }

    function test_payThroughPlatform_cancellationTakesTheFeeBack() public {
        makePlatform(app, 200);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 30_000, freshId(), noPrograms(), app);
        assertEq(rec.fee, 600, "fee");
        assertEq(rec.platform, app, "platform");
        rec = cancelPart(shop0, rec, 10_000);
        assertEq(token.balanceOf(app), 400, "a third of the fee back");
        assertEq(token.balanceOf(shop0), 29_400 - 9800, "shop gives back its part");
        rec = cancelPart(shop0, rec, 20_000);
        assertEq(token.balanceOf(app), 0, "platform");
        assertEq(token.balanceOf(shop0), 0, "shop");
        assertEq(token.balanceOf(citizen), 500_000, "payer");
        assertEq(token.totalSupply(), 3_000_000, "supply");
    }

    /// @notice Replays a review finding: once the platform had redeemed its fee, the shop's
    /// cancellation failed (the fee share could not be taken back from the platform), so the
    /// platform could block every refund. The shop now pays the fee share itself.
    function test_payThroughPlatform_cancelAfterThePlatformRedeemedItsFee() public {
        makePlatform(app, 1000);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 10_000, freshId(), noPrograms(), app);
        assertEq(rec.fee, 1000, "fee");
        payRecord(friend, shop0, 5000); // the shop has takings to give back from
        vm.prank(app);
        token.redeem(1000, "settlement");
        assertEq(token.balanceOf(app), 0, "platform cashed out");
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.PaymentCancelled(
            citizen,
            shop0,
            rec.paymentId,
            rec.seq,
            10_000,
            10_000,
            10_000,
            1000,
            0,
            new uint256[](0)
        );
        rec = cancelPart(shop0, rec, 10_000);
        assertEq(token.balanceOf(shop0), 9000 + 5000 - 10_000, "the shop paid the fee share too");
        assertEq(token.balanceOf(app), 0, "nothing taken from the platform");
        assertEq(token.balanceOf(citizen), 500_000, "payer whole");
        assertEq(
            token.totalSupply(),
            token.balanceOf(citizen) + token.balanceOf(friend) + token.balanceOf(institution)
                + token.balanceOf(shop0) + token.balanceOf(app),
            "supply == sum of balances"
        );
    }

    /// @notice Replays a review finding: a platform over the revenue cap tier took its fee out
    /// of purchased money, which it may not receive directly. Such a payment now reverts; a
    /// payment from pockets only still goes through it.
    function test_RevertWhen_platformOverRevenueCapTakesPurchasedMoney() public {
        address bigApp = newMerchant(KSIC_GROCERY, 3);
        makePlatform(bigApp, 100);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherMerchantOverRevenueCap.selector, bigApp, 3, 3
            )
        );
        vm.prank(citizen);
        token.payThroughPlatform(bigApp, shop0, 10_000, freshId(), noPrograms());
        uint256 programId = singleProgram(citizen, 10_000, noCategories());
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 10_000, freshId(), ids1(programId), bigApp);
        assertEq(rec.fromGeneral, 0, "pocket only");
        assertEq(token.balanceOf(bigApp), 100, "the fee from the pocket");
        assertEq(token.balanceOf(shop0), 9900, "shop");
    }

    /// @notice Replays a review finding: a platform whose category is excluded took its fee
    /// out of purchased money. Such a payment now reverts once the exclusion is synced; a
    /// payment from pockets only still goes through it.
    function test_RevertWhen_platformInExcludedCategoryTakesPurchasedMoney() public {
        makePlatform(app, 100);
        vm.prank(cityAdmin);
        token.setExcludedCategory(KSIC_GROCERY, true);
        address[] memory list = new address[](1);
        list[0] = app;
        token.syncMerchantExclusion(list);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryExcluded.selector, app, KSIC_GROCERY)
        );
        vm.prank(citizen);
        token.payThroughPlatform(app, shop0, 10_000, freshId(), noPrograms());
        uint256 programId = singleProgram(citizen, 10_000, categories1(KSIC_RESTAURANT));
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, shop0, 10_000, freshId(), ids1(programId), app);
        assertEq(rec.fromGeneral, 0, "pocket only");
        assertEq(token.balanceOf(app), 100, "the fee from the pocket");
    }

    function test_payThroughPlatform_withExtraDiscountAndInstitution() public {
        makePlatform(app, 1000);
        setExtra(shop0, 2000);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(institution, shop0, 10_000, freshId(), noPrograms(), app);
        assertEq(rec.amount, 8000, "discounted");
        assertEq(rec.fee, 800, "fee on what was paid");
        assertEq(token.balanceOf(shop0), 7200, "shop");
        assertEq(token.balanceOf(app), 800, "platform");
        assertEq(token.balanceOf(institution), 2_000_000 - 8000, "no cashback for institutions");
    }

    // ================================================================== exclusions

    function test_excludedCategory_appliesAfterSync() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.CategoryExcludedSet(KSIC_BAR, true);
        vm.prank(cityAdmin);
        token.setExcludedCategory(KSIC_BAR, true);
        assertTrue(token.isCategoryExcluded(KSIC_BAR), "excluded");
        // Not yet in the merchant's record: the bar still takes purchased money.
        payRecord(citizen, bar, 1000);
        address[] memory list = new address[](2);
        list[0] = bar;
        list[1] = shop0;
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.MerchantExclusionSet(bar, true);
        vm.prank(friend); // anyone may sync
        token.syncMerchantExclusion(list);
        assertTrue(token.merchantOf(bar).excluded, "synced");
        assertFalse(token.merchantOf(shop0).excluded, "other category untouched");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryExcluded.selector, bar, KSIC_BAR)
        );
        vm.prank(citizen);
        token.pay(bar, 1000, freshId(), noPrograms());
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryExcluded.selector, bar, KSIC_BAR)
        );
        vm.prank(institution);
        token.pay(bar, 1000, freshId(), noPrograms());
        // Lifted: again after a sync.
        vm.prank(cityAdmin);
        token.setExcludedCategory(KSIC_BAR, false);
        vm.prank(friend);
        token.syncMerchantExclusion(list);
        payRecord(citizen, bar, 1000);
    }

    function test_excludedCategory_newAndUpdatedMerchantsAtOnce() public {
        vm.prank(cityAdmin);
        token.setExcludedCategory(KSIC_BAR, true);
        address newBar = newMerchant(KSIC_BAR, 0);
        assertTrue(token.merchantOf(newBar).excluded, "registered excluded");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryExcluded.selector, newBar, KSIC_BAR)
        );
        vm.prank(citizen);
        token.pay(newBar, 1000, freshId(), noPrograms());
        vm.prank(registrar);
        token.updateMerchant(shop0, KSIC_BAR, 0);
        assertTrue(token.merchantOf(shop0).excluded, "update syncs");
        vm.prank(registrar);
        token.updateMerchant(shop0, KSIC_RESTAURANT, 0);
        assertFalse(token.merchantOf(shop0).excluded, "and back");
    }

    function test_excludedCategory_programPocketsStillPay() public {
        uint256 programId = singleProgram(citizen, 30_000, categories1(KSIC_BAR));
        vm.prank(cityAdmin);
        token.setExcludedCategory(KSIC_BAR, true);
        address[] memory list = new address[](1);
        list[0] = bar;
        token.syncMerchantExclusion(list);
        IVoucherTypes.PaymentRecord memory rec =
            payRecord(citizen, bar, 20_000, freshId(), ids1(programId), address(0));
        assertEq(rec.programAmounts[0], 20_000, "from the pocket");
        assertEq(token.balanceOf(bar), 20_000, "bar paid");
        // More than the pocket holds would need purchased money.
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryExcluded.selector, bar, KSIC_BAR)
        );
        vm.prank(citizen);
        token.pay(bar, 10_001, freshId(), ids1(programId));
    }

    function test_RevertWhen_exclusionByNonAdminOrUnknownMerchant() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, registrar, bytes32(0)
            )
        );
        vm.prank(registrar);
        token.setExcludedCategory(KSIC_BAR, true);
        address[] memory list = new address[](1);
        list[0] = citizen;
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotMerchant.selector, citizen));
        token.syncMerchantExclusion(list);
    }

    // ================================================================== institutions

    function test_setInstitutionLimits_perPaymentAndPerMonth() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.InstitutionLimitsSet(institution, 100_000, 250_000);
        vm.prank(cityAdmin);
        token.setInstitutionLimits(institution, 100_000, 250_000);
        IVoucherTypes.InstitutionLimits memory l = token.institutionLimitsOf(institution);
        assertEq(l.perPayment, 100_000, "perPayment");
        assertEq(l.perMonth, 250_000, "perMonth");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionPaymentCapExceeded.selector, 100_001, 100_000
            )
        );
        vm.prank(institution);
        token.pay(shop0, 100_001, freshId(), noPrograms());
        payRecord(institution, shop0, 100_000);
        payRecord(institution, shop0, 100_000);
        payRecord(institution, shop0, 50_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionMonthlyCapExceeded.selector,
                institution,
                250_001,
                250_000
            )
        );
        vm.prank(institution);
        token.pay(shop0, 1, freshId(), noPrograms());
        // Another institution has its own (no) limits.
        buy(otherInstitution, 300_000);
        payRecord(otherInstitution, shop0, 200_000);
    }

    function test_institutionMonthlyLimit_resetsAtKstMonth() public {
        vm.prank(cityAdmin);
        token.setInstitutionLimits(institution, 0, 100_000);
        vm.warp(NOV30_2359_KST);
        payRecord(institution, shop0, 100_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionMonthlyCapExceeded.selector,
                institution,
                100_001,
                100_000
            )
        );
        vm.prank(institution);
        token.pay(shop0, 1, freshId(), noPrograms());
        vm.warp(DEC01_0000_KST);
        payRecord(institution, shop0, 100_000);
        assertEq(token.institutionLimitsOf(institution).monthSpent, 100_000, "December");
    }

    function test_RevertWhen_setInstitutionLimitsInvalid() public {
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotInstitution.selector, citizen)
        );
        vm.prank(cityAdmin);
        token.setInstitutionLimits(citizen, 1, 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, institution, bytes32(0)
            )
        );
        vm.prank(institution);
        token.setInstitutionLimits(institution, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IVoucherBase.VoucherNotInstitution.selector, shop0));
        vm.prank(cityAdmin);
        token.setInstitutionBlockedCategory(shop0, KSIC_BAR, true);
    }

    function test_institutionBlockedCategory_perInstitution() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.InstitutionCategoryBlockedSet(institution, KSIC_GROCERY, true);
        vm.prank(cityAdmin);
        token.setInstitutionBlockedCategory(institution, KSIC_GROCERY, true);
        assertTrue(token.isInstitutionCategoryBlockedFor(institution, KSIC_GROCERY), "view");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherCategoryBlocked.selector, grocery, KSIC_GROCERY
            )
        );
        vm.prank(institution);
        token.pay(grocery, 1000, freshId(), noPrograms());
        buy(otherInstitution, 10_000);
        payRecord(otherInstitution, grocery, 1000); // another institution: not blocked
        payRecord(citizen, grocery, 1000); // citizens: never
        // The city-wide block still applies to every institution.
        vm.prank(cityAdmin);
        token.setInstitutionCategory(KSIC_BAR, true);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryBlocked.selector, bar, KSIC_BAR)
        );
        vm.prank(otherInstitution);
        token.pay(bar, 1000, freshId(), noPrograms());
        vm.prank(cityAdmin);
        token.setInstitutionBlockedCategory(institution, KSIC_GROCERY, false);
        payRecord(institution, grocery, 1000);
    }

    // ================================================================== employees

    function test_employee_paysFromTheInstitution() public {
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.EmployeeSet(institution, employee, 50_000);
        vm.prank(institution);
        token.setEmployee(employee, 50_000);
        IVoucherTypes.Employee memory e = token.employeeOf(employee);
        assertEq(e.institution, institution, "institution");
        assertEq(e.monthlyLimit, 50_000, "limit");
        bytes32 id = freshId();
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.EmployeePayment(institution, employee, 0, 20_000);
        vm.prank(employee);
        uint256 seq = token.payAsEmployee(institution, shop0, 20_000, id);
        assertEq(seq, 0, "the institution's first payment");
        assertEq(token.balanceOf(institution), 2_000_000 - 20_000, "institution pays");
        assertEq(token.balanceOf(employee), 0, "employee holds nothing");
        assertEq(token.balanceOf(shop0), 20_000, "shop");
        assertEq(token.employeeOf(employee).monthSpent, 20_000, "employee's month");
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherEmployeeLimitExceeded.selector, employee, 50_001, 50_000
            )
        );
        vm.prank(employee);
        token.payAsEmployee(institution, shop0, 30_001, freshId());
        payAsEmployeeRecord(employee, institution, shop0, 30_000);
        // A new KST month starts the employee over.
        vm.warp(DEC01_0000_KST);
        payAsEmployeeRecord(employee, institution, shop0, 50_000);
    }

    function test_employee_paymentIsTheInstitutionsAndCancelsBackToIt() public {
        vm.prank(institution);
        token.setEmployee(employee, 500_000);
        vm.prank(cityAdmin);
        token.setInstitutionBlockedCategory(institution, KSIC_BAR, true);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherCategoryBlocked.selector, bar, KSIC_BAR)
        );
        vm.prank(employee);
        token.payAsEmployee(institution, bar, 1000, freshId());
        IVoucherTypes.PaymentRecord memory rec =
            payAsEmployeeRecord(employee, institution, shop0, 40_000);
        assertEq(rec.payer, institution, "payer");
        assertEq(rec.cashback, 0, "no cashback");
        cancelPart(shop0, rec, 40_000);
        assertEq(token.balanceOf(institution), 2_000_000, "back to the institution");
    }

    function test_employee_institutionLimitsApply() public {
        vm.prank(institution);
        token.setEmployee(employee, 500_000);
        vm.prank(cityAdmin);
        token.setInstitutionLimits(institution, 10_000, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherInstitutionPaymentCapExceeded.selector, 10_001, 10_000
            )
        );
        vm.prank(employee);
        token.payAsEmployee(institution, shop0, 10_001, freshId());
    }

    function test_RevertWhen_employeeTakenOverOrRemoved() public {
        vm.prank(institution);
        token.setEmployee(employee, 50_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherNotEmployee.selector, employee, otherInstitution
            )
        );
        vm.prank(otherInstitution);
        token.setEmployee(employee, 50_000);
        vm.expectRevert(
            abi.encodeWithSelector(
                IVoucherBase.VoucherNotEmployee.selector, employee, otherInstitution
            )
        );
        vm.prank(employee);
        token.payAsEmployee(otherInstitution, shop0, 1000, freshId());
        // Limit 0 removes the employee; then another institution may take them on.
        vm.expectEmit(true, true, true, true, address(token));
        emit IVoucherBase.EmployeeSet(institution, employee, 0);
        vm.prank(institution);
        token.setEmployee(employee, 0);
        assertEq(token.employeeOf(employee).institution, address(0), "removed");
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotEmployee.selector, employee, institution)
        );
        vm.prank(employee);
        token.payAsEmployee(institution, shop0, 1000, freshId());
        vm.prank(otherInstitution);
        token.setEmployee(employee, 10_000);
        assertEq(token.employeeOf(employee).institution, otherInstitution, "new institution");
        // A stranger is nobody's employee; the zero institution is never one.
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotEmployee.selector, friend, address(0))
        );
        vm.prank(friend);
        token.payAsEmployee(address(0), shop0, 1000, freshId());
    }

    function test_RevertWhen_setEmployeeInvalid() public {
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherNotInstitution.selector, citizen)
        );
        vm.prank(citizen);
        token.setEmployee(employee, 1000);
        vm.expectRevert(
            abi.encodeWithSelector(IVoucherBase.VoucherEdgeNotAllowed.selector, institution, shop0)
        );
        vm.prank(institution);
        token.setEmployee(shop0, 1000);
    }

    function testFuzz_employee_monthlyLimit(uint40 limit, uint256 a, uint256 b) public {
        limit = uint40(bound(limit, 1, 400_000));
        a = bound(a, 1, 400_000);
        b = bound(b, 1, 400_000);
        vm.prank(institution);
        token.setEmployee(employee, limit);
        if (a > limit) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherEmployeeLimitExceeded.selector, employee, a, limit
                )
            );
            vm.prank(employee);
            token.payAsEmployee(institution, shop0, a, freshId());
            return;
        }
        payAsEmployeeRecord(employee, institution, shop0, a);
        if (a + b > limit) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IVoucherBase.VoucherEmployeeLimitExceeded.selector, employee, a + b, limit
                )
            );
            vm.prank(employee);
            token.payAsEmployee(institution, shop0, b, freshId());
        } else {
            payAsEmployeeRecord(employee, institution, shop0, b);
        }
        assertLe(token.employeeOf(employee).monthSpent, limit, "within the limit");
    }
}
