// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Value types shared by the voucher token, the factory and off-chain tools
interface IVoucherTypes {
    /// @notice A municipality's rules. Every figure is a parameter because guidelines change them.
    /// @dev Field order packs the fields a payment reads into the first storage slot.
    struct Rules {
        // Read on every payment (one storage slot).
        uint8 revenueCapTier; // merchants at or above this tier cannot take purchased money
        uint16 cashbackBpsTier0; // cashback rate by merchant revenue tier, basis points
        uint16 cashbackBpsTier1;
        uint16 cashbackBpsTier2;
        uint16 cashbackBpsTier3;
        uint64 cashbackMonthlyBase; // spending per person per month that earns cashback
        uint64 holdingCap; // most general balance a citizen may hold
        uint64 institutionPaymentCap; // most one institution payment may be (0: no limit)
        // Read by sales, gifts and refunds.
        uint16 minDiscountBps; // discount bounds for sales, basis points of face value
        uint16 maxDiscountBps;
        uint16 refundThresholdBps; // share of purchased money spent before a cash refund
        bool giftEnabled;
        uint32 changeDelay; // seconds between proposing new rules and their taking effect
        uint64 monthlyPurchaseCap; // face value a citizen may buy per calendar month (KST)
        uint64 giftSendCap; // per calendar month
        uint64 giftReceiveCap; // per calendar month
    }

    /// @notice Lifecycle of a merchant in one municipality.
    enum MerchantStatus {
        None,
        Active,
        Suspended,
        Cancelled
    }

    /// @notice A merchant's record in one municipality.
    struct Merchant {
        uint32 region; // 5-digit legal-district code of the shop
        uint24 category; // KSIC industry code
        uint8 tier; // revenue tier (0 smallest); compared with Rules.revenueCapTier
        MerchantStatus status;
        bool market; // registered traditional-market store (national voucher)
        uint40 bannedUntil; // re-registration barred until then (cash-out fraud)
        // Appended in the money-rules upgrade; the record still fits one slot, so a payment
        // reads these with the fields above at no extra cold read.
        uint16 extraBps; // merchant-funded discount on every payment, paid by the merchant
        uint16 platformFeeBps; // brokerage a platform takes on payments through it (0: none)
        bool platform; // may take payments for other shops of this municipality
        bool excluded; // its category is excluded for purchased money (see excludedCategory)
        uint64 extraTotal; // merchant-funded extras given so far, net of cancellations
    }

    /// @notice Parameters of a policy program (정책발행).
    struct ProgramParams {
        bytes32 root; // StandardMerkleTree root of (uint256 index, address recipient, uint256 amount)
        uint64 budget; // most the program can ever grant
        uint40 start;
        uint40 expiry; // pockets are unspendable from this time on
        bool revenueCapWaived; // policy money may be spent at merchants over the revenue cap
        uint24[] categories; // allowed KSIC categories; empty means every category
        bytes32 ref; // the municipality's own reference (budget line, ordinance)
    }

    /// @notice A policy program's state.
    struct Program {
        bytes32 root;
        uint64 budget;
        uint64 granted;
        uint64 spent;
        uint40 start;
        uint40 expiry;
        bool revenueCapWaived;
        bool anyCategory;
        bool closed;
    }

    /// @notice One leaf of a program's recipient list.
    struct Grant {
        uint256 index;
        address recipient;
        uint256 amount;
    }

    /// @notice What a payment recorded; the merchant presents it back to cancel the payment.
    struct PaymentRecord {
        address payer;
        uint256 seq;
        bytes32 paymentId;
        uint256 amount;
        uint256 fromGeneral;
        uint256 cashback;
        uint256[] programIds;
        uint256[] programAmounts;
        // Appended in the money-rules upgrade.
        uint256 extra; // merchant-funded discount: the price was amount + extra
        address platform; // the platform the payment went through (0: direct)
        uint256 fee; // the platform's brokerage, out of amount
        uint256 cancelled; // cancelled so far; the record is rewritten on each partial cancel
    }

    /// @notice State of an invoice: a single-use payment id of a merchant.
    enum InvoiceStatus {
        None,
        Open,
        Paid,
        Cancelled
    }

    /// @notice A merchant's invoice or remote payment request (one slot).
    struct Invoice {
        uint48 amount; // exact amount due (0: any amount)
        uint40 expiry; // unpayable from then on (0: never expires)
        InvoiceStatus status;
        address payer; // only this wallet may pay it (0: anyone)
    }

    /// @notice One funder's share of a funding plan, in basis points of each subsidy/cashback.
    struct FundingShare {
        bytes32 funder; // e.g. "state", "gyeonggi", "siheung"
        uint16 subsidyBps;
        uint16 cashbackBps;
    }

    /// @notice Parameters of a reward program (walking points, campaign prizes).
    struct RewardParams {
        uint64 budget;
        uint40 start;
        uint40 expiry;
        uint48 dailyCap; // most one person is paid per KST day (0: no daily cap)
        uint48 monthlyCap; // most one person is paid per KST month (0: no monthly cap)
        bool revenueCapWaived;
        uint24[] categories;
        bytes32 ref;
    }

    /// @notice One reward: signed by a REWARDER, paid once per attestation id.
    struct Reward {
        bytes32 attestationId;
        address recipient;
        uint256 amount;
    }

    /// @notice A public body's limits (0: no limit) and this month's spending.
    struct InstitutionLimits {
        uint48 perPayment;
        uint48 perMonth;
        uint24 month;
        uint48 monthSpent;
    }

    /// @notice An employee authorised to spend from an institution's balance (one slot).
    struct Employee {
        address institution;
        uint40 monthlyLimit;
        uint16 month; // KST month index (year * 12 + month - 1, as KstCalendar.monthOf)
        uint40 monthSpent;
    }

    /// @notice A payment its payer signed for this city's token, for anyone (the relayer) to
    /// submit with `payBySig`; the payment itself is exactly `pay` by `payer`.
    /// @dev Signed as EIP-712 typed data under the token's own domain (`eip712Domain()`: name
    /// "Dongne Voucher", version "1", this chain, the city's proxy as verifying contract), with
    /// this struct as the primary type, field for field:
    /// `SignedPayment(address payer,address merchant,uint256 amount,bytes32 paymentId,uint256[] programIds,uint256 nonce,uint256 deadline)`
    /// (its hash is `SIGNED_PAYMENT_TYPEHASH()`), so a wallet derives the type from this ABI.
    struct SignedPayment {
        address payer; // the signer, whose money moves
        address merchant;
        uint256 amount;
        bytes32 paymentId; // 0 for a plain QR payment, else a single-use invoice id
        uint256[] programIds; // program pockets to spend first, in order (may be empty)
        // The payer's payment sequence the payment will take (`accountOf(payer).nextPaymentSeq`):
        // any payment of theirs, signed or direct, uses it up, so each signature pays once.
        uint256 nonce;
        uint256 deadline; // unix seconds; refused after it
    }

    /// @notice A signature of a `SignedPayment` in EIP-2098 compact form: `r`, and `s` with
    /// `v - 27` in its top bit. Two fixed words instead of a 65-byte `bytes`: the offset,
    /// length and padding words a `bytes` costs in calldata (~420 gas a payment, measured
    /// with bench_gas) are gone, and a high-s twin cannot even be expressed.
    struct PaymentSignature {
        bytes32 r;
        bytes32 vs;
    }
}
