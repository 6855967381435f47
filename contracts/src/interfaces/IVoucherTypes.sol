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
    }
}
