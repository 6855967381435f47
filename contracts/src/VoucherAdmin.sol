// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IIdentityRegistry} from "./interfaces/IIdentityRegistry.sol";
import {IVoucherAdmin} from "./interfaces/IVoucherAdmin.sol";
import {KstCalendar} from "./libraries/KstCalendar.sol";
import {VoucherBase} from "./VoucherBase.sol";

/// @title VoucherAdmin: rules, merchants, programs' lifecycle and views of a voucher token
/// @notice Runs only by delegatecall from a VoucherToken proxy, in the proxy's storage. It is a
/// separate contract because one contract holding both halves is over the EIP-170 code-size
/// limit; called directly it has no roles and no state, so it can do nothing.
contract VoucherAdmin is IVoucherAdmin, VoucherBase {
    constructor(address forwarder, IIdentityRegistry registry_) VoucherBase(forwarder, registry_) {
        _disableInitializers();
    }

    // ------------------------------------------------------------------ rules

    /// @inheritdoc IVoucherAdmin
    function proposeRules(Rules calldata newRules)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint256 version)
    {
        _validateRules(newRules);
        VoucherStorage storage $ = _s();
        version = $.rulesVersion + 1;
        uint256 effectiveAt = block.timestamp + _rules().changeDelay;
        $.rulesByVersion[uint64(version)] = newRules;
        $.pendingAt = uint64(effectiveAt);
        emit RulesProposed(version, effectiveAt, newRules);
        if (effectiveAt == block.timestamp) _activatePending();
    }

    /// @inheritdoc IVoucherAdmin
    function activateRules() external {
        VoucherStorage storage $ = _s();
        if ($.pendingAt == 0) revert VoucherNoPendingRules();
        if (block.timestamp < $.pendingAt) revert VoucherRulesNotYetEffective($.pendingAt);
        _activatePending();
    }

    /// @inheritdoc IVoucherAdmin
    function cancelPendingRules() external onlyRole(DEFAULT_ADMIN_ROLE) {
        VoucherStorage storage $ = _s();
        if ($.pendingAt == 0) revert VoucherNoPendingRules();
        delete $.rulesByVersion[$.rulesVersion + 1];
        $.pendingAt = 0;
        emit RulesCancelled($.rulesVersion + 1);
    }

    /// @inheritdoc IVoucherAdmin
    function setInstitutionCategory(uint24 category, bool blocked)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _s().institutionBlocked[category] = blocked;
        emit InstitutionCategorySet(category, blocked);
    }

    /// @inheritdoc IVoucherAdmin
    function setPaused(bool paused_) external onlyRole(PAUSER_ROLE) {
        _s().paused = paused_;
        emit PausedSet(paused_, _msgSender());
    }

    function _activatePending() private {
        VoucherStorage storage $ = _s();
        uint64 version = $.rulesVersion + 1;
        $.rulesVersion = version; // the pending version becomes the current one, kept as is
        $.pendingAt = 0;
        emit RulesActivated(version, $.rulesByVersion[version]);
    }

    // ------------------------------------------------------------------ merchants

    /// @inheritdoc IVoucherAdmin
    function registerMerchant(
        address merchant,
        uint32 merchantRegion,
        uint24 category,
        uint8 tier,
        bool market
    ) external onlyRole(MERCHANT_REGISTRAR_ROLE) {
        VoucherStorage storage $ = _s();
        if (_requireIdentity(merchant) != IIdentityRegistry.Kind.Merchant) {
            revert VoucherNotMerchant(merchant);
        }
        if ($.region == 0) {
            // The national (온누리-style) voucher: market stores of any region.
            if (!market) revert VoucherMarketRequired(merchant);
        } else if (merchantRegion != $.region) {
            revert VoucherRegionMismatch($.region, merchantRegion);
        }
        Merchant storage m = $.merchants[merchant];
        if (m.bannedUntil > block.timestamp) revert VoucherMerchantBanned(merchant, m.bannedUntil);
        if (m.status == MerchantStatus.Active || m.status == MerchantStatus.Suspended) {
            revert VoucherMerchantAlreadyRegistered(merchant);
        }
        $.merchants[merchant] = Merchant({
            region: merchantRegion,
            category: category,
            tier: tier,
            status: MerchantStatus.Active,
            market: market,
            bannedUntil: 0
        });
        emit MerchantRegistered(merchant, merchantRegion, category, tier, market);
    }

    /// @inheritdoc IVoucherAdmin
    function updateMerchant(address merchant, uint24 category, uint8 tier)
        external
        onlyRole(MERCHANT_REGISTRAR_ROLE)
    {
        Merchant storage m = _merchant(merchant);
        m.category = category;
        m.tier = tier;
        emit MerchantUpdated(merchant, category, tier);
    }

    /// @inheritdoc IVoucherAdmin
    function setMerchantStatus(address merchant, MerchantStatus status, uint40 bannedUntil)
        external
        onlyRole(MERCHANT_REGISTRAR_ROLE)
    {
        Merchant storage m = _merchant(merchant);
        if (status == MerchantStatus.None) revert VoucherMerchantInactive(merchant, status);
        // A ban holds until its end: it can be extended, never lifted or shortened early.
        uint40 ban = m.bannedUntil;
        if (ban > block.timestamp && (status == MerchantStatus.Active || bannedUntil < ban)) {
            revert VoucherMerchantBanned(merchant, ban);
        }
        m.status = status;
        m.bannedUntil = bannedUntil;
        emit MerchantStatusSet(merchant, status, bannedUntil);
    }

    // ------------------------------------------------------------------ programs

    /// @inheritdoc IVoucherAdmin
    function createProgram(ProgramParams calldata params)
        external
        onlyRole(PROGRAM_MANAGER_ROLE)
        returns (uint256 programId)
    {
        if (params.root == bytes32(0)) {
            revert ProgramInvalidParams("root");
        }
        if (params.budget == 0) revert ProgramInvalidParams("budget");
        if (params.start >= params.expiry) revert ProgramInvalidParams("window");
        if (params.expiry <= block.timestamp) revert ProgramInvalidParams("expiry");
        VoucherStorage storage $ = _s();
        programId = ++$.programCount;
        $.programs[programId] = Program({
            root: params.root,
            budget: params.budget,
            granted: 0,
            spent: 0,
            start: params.start,
            expiry: params.expiry,
            revenueCapWaived: params.revenueCapWaived,
            anyCategory: params.categories.length == 0,
            closed: false
        });
        mapping(uint24 => bool) storage allowed = $.programCategories[programId];
        for (uint256 i = 0; i < params.categories.length; ++i) {
            allowed[params.categories[i]] = true;
        }
        emit ProgramCreated(
            programId,
            params.root,
            params.budget,
            params.start,
            params.expiry,
            params.revenueCapWaived,
            params.categories,
            params.ref
        );
    }

    /// @inheritdoc IVoucherAdmin
    function closeProgram(uint256 programId)
        external
        onlyRole(PROGRAM_MANAGER_ROLE)
        returns (uint256 returned)
    {
        Program storage p = _program(programId);
        if (p.closed) revert ProgramAlreadyClosed(programId);
        if (block.timestamp < p.expiry) revert ProgramNotExpired(programId, p.expiry);
        p.closed = true;
        returned = p.budget - p.spent;
        emit ProgramClosed(programId, p.granted, p.spent, returned);
    }

    function programOf(uint256 programId) external view returns (Program memory) {
        return _s().programs[programId];
    }

    function programCount() external view returns (uint256) {
        return _s().programCount;
    }

    function isProgramCategoryAllowed(uint256 programId, uint24 category)
        external
        view
        returns (bool)
    {
        return _categoryAllowed(programId, _s().programs[programId], category);
    }

    // ------------------------------------------------------------------ views

    function region() external view returns (uint32) {
        return _s().region;
    }

    function identityRegistry() external view returns (address) {
        return address(_registry);
    }

    function rules() external view returns (Rules memory) {
        return _rules();
    }

    function rulesAt(uint256 version) external view returns (Rules memory) {
        VoucherStorage storage $ = _s();
        if (version == 0 || version > $.rulesVersion) revert VoucherUnknownRulesVersion(version);
        return $.rulesByVersion[uint64(version)];
    }

    function rulesVersion() external view returns (uint256) {
        return _s().rulesVersion;
    }

    function pendingRules() external view returns (Rules memory pending, uint256 effectiveAt) {
        VoucherStorage storage $ = _s();
        return ($.rulesByVersion[$.rulesVersion + 1], $.pendingAt);
    }

    function paused() external view returns (bool) {
        return _s().paused;
    }

    function isInstitutionCategoryBlocked(uint24 category) external view returns (bool) {
        return _s().institutionBlocked[category];
    }

    function merchantOf(address merchant) external view returns (Merchant memory) {
        return _s().merchants[merchant];
    }

    function accountOf(address holder)
        external
        view
        returns (
            uint256 monthPurchased,
            uint256 monthCashbackBase,
            uint256 monthGiftSent,
            uint256 monthGiftReceived,
            uint256 boughtFace,
            uint256 boughtPaid,
            uint256 nextPaymentSeq
        )
    {
        VoucherStorage storage $ = _s();
        Account storage a = $.accounts[holder];
        Book storage b = $.books[holder];
        uint24 month = KstCalendar.monthOf(block.timestamp);
        bool accountCurrent = a.month == month;
        bool bookCurrent = b.month == month;
        return (
            accountCurrent ? a.monthPurchased : 0,
            accountCurrent ? a.monthCashbackBase : 0,
            bookCurrent ? b.giftSent : 0,
            bookCurrent ? b.giftReceived : 0,
            b.boughtFace,
            b.boughtPaid,
            a.paymentSeq
        );
    }

    function isPaymentOnRecord(address merchant, PaymentRecord calldata record)
        external
        view
        returns (bool)
    {
        return
            _s().payments[record.payer][record.seq % PAYMENT_RING] == _recordHash(merchant, record);
    }

    function _merchant(address merchant) private view returns (Merchant storage m) {
        m = _s().merchants[merchant];
        if (m.status == MerchantStatus.None) revert VoucherNotMerchant(merchant);
    }
}
