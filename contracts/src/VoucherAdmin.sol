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
    /// @dev The services half (invoices, platform and employee payments, rewards, recovery):
    /// selectors this module lacks run there, still in the proxy's storage and with its caller.
    address private immutable _servicesModule;

    uint256 private constant MAX_FUNDERS = 16;
    uint256 private constant MAX_EXTRA_BPS = 5000; // a merchant's own discount, at most half
    uint256 private constant MAX_PLATFORM_FEE_BPS = 2000; // brokerage, at most a fifth

    constructor(address forwarder, IIdentityRegistry registry_, address servicesModule_)
        VoucherBase(forwarder, registry_)
    {
        _servicesModule = servicesModule_;
        _disableInitializers();
    }

    /// @notice The services module this admin module delegates unknown selectors to.
    function servicesModule() external view returns (address) {
        return _servicesModule;
    }

    fallback() external {
        _delegate(_servicesModule);
    }

    /// @inheritdoc IVoucherAdmin
    /// @dev Here rather than in the core, which is at the EIP-170 limit: it runs once.
    function initialize(
        uint32 region_,
        string calldata name_,
        string calldata symbol_,
        address admin,
        Rules calldata initialRules
    ) external initializer {
        __AccessControl_init();
        _validateRules(initialRules);
        VoucherStorage storage $ = _s();
        $.region = region_;
        $.name = name_;
        $.symbol = symbol_;
        $.rulesByVersion[1] = initialRules;
        $.rulesVersion = 1;
        _mirrorPayRules();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit MunicipalityInitialized(region_, name_, symbol_, admin);
        emit RulesActivated(1, initialRules);
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
        _mirrorPayRules(); // also how a proxy upgraded from before the copy gets it
        emit PausedSet(paused_, _msgSender());
    }

    /// @inheritdoc IVoucherAdmin
    /// @dev Permissionless: it only copies state the roles already set, so a caller can
    /// neither choose what is written nor make it differ from the truth.
    function mirrorPayRules() external {
        _mirrorPayRules();
    }

    /// @inheritdoc IVoucherAdmin
    function forgetIdentity(address account) external {
        // The registry itself, never relayed: a contract cannot sign a forwarded request.
        if (msg.sender != address(_registry)) {
            revert IIdentityRegistry.IdentityNotAuthorized(msg.sender);
        }
        Account storage a = _s().accounts[account];
        if (a.identity != 0) a.identity = 0;
    }

    /// @inheritdoc IVoucherAdmin
    function setInstitutionLimits(address institution, uint48 perPayment, uint48 perMonth)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (_requireIdentity(institution) != IIdentityRegistry.Kind.Institution) {
            revert VoucherNotInstitution(institution);
        }
        InstitutionLimits storage l = _s().institutionLimits[institution];
        l.perPayment = perPayment;
        l.perMonth = perMonth;
        emit InstitutionLimitsSet(institution, perPayment, perMonth);
    }

    /// @inheritdoc IVoucherAdmin
    function setInstitutionBlockedCategory(address institution, uint24 category, bool blocked)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (_requireIdentity(institution) != IIdentityRegistry.Kind.Institution) {
            revert VoucherNotInstitution(institution);
        }
        _s().institutionBlockedFor[institution][category] = blocked;
        emit InstitutionCategoryBlockedSet(institution, category, blocked);
    }

    // ------------------------------------------------------------------ funding plans

    /// @inheritdoc IVoucherAdmin
    function proposeFundingPlan(FundingShare[] calldata shares)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint256 version)
    {
        _validateFundingPlan(shares);
        VoucherStorage storage $ = _s();
        uint64 next = $.fundingVersion + 1;
        FundingShare[] storage plan = $.fundingPlans[next];
        while (plan.length > 0) plan.pop(); // a cancelled proposal may have left one
        for (uint256 i = 0; i < shares.length; ++i) {
            plan.push(shares[i]);
        }
        uint256 effectiveAt = block.timestamp + _rules().changeDelay;
        $.fundingPendingAt = uint64(effectiveAt);
        emit FundingPlanProposed(next, effectiveAt, shares);
        if (effectiveAt == block.timestamp) _activateFundingPlan();
        return next;
    }

    /// @inheritdoc IVoucherAdmin
    function activateFundingPlan() external {
        uint256 at = _s().fundingPendingAt;
        if (at == 0) revert VoucherNoPendingFundingPlan();
        if (block.timestamp < at) revert VoucherFundingPlanNotYetEffective(at);
        _activateFundingPlan();
    }

    /// @inheritdoc IVoucherAdmin
    function cancelPendingFundingPlan() external onlyRole(DEFAULT_ADMIN_ROLE) {
        VoucherStorage storage $ = _s();
        if ($.fundingPendingAt == 0) revert VoucherNoPendingFundingPlan();
        $.fundingPendingAt = 0;
        emit FundingPlanCancelled($.fundingVersion + 1);
    }

    function _validateFundingPlan(FundingShare[] calldata shares) private pure {
        if (shares.length == 0 || shares.length > MAX_FUNDERS) {
            revert VoucherInvalidFundingPlan("funders");
        }
        uint256 subsidy;
        uint256 cashback;
        for (uint256 i = 0; i < shares.length; ++i) {
            if (shares[i].funder == bytes32(0)) revert VoucherInvalidFundingPlan("funder");
            for (uint256 j = 0; j < i; ++j) {
                if (shares[j].funder == shares[i].funder) {
                    revert VoucherInvalidFundingPlan("duplicate");
                }
            }
            subsidy += shares[i].subsidyBps;
            cashback += shares[i].cashbackBps;
        }
        if (subsidy != BPS) revert VoucherInvalidFundingPlan("subsidyBps");
        if (cashback != BPS) revert VoucherInvalidFundingPlan("cashbackBps");
    }

    /// @dev Marks the running totals where the new version starts: a version funds what the
    /// totals grow by until the next one, so no per-funder write happens on any payment.
    function _activateFundingPlan() private {
        VoucherStorage storage $ = _s();
        uint64 version = $.fundingVersion + 1;
        $.fundingVersion = version;
        $.fundingPendingAt = 0;
        Supply memory supply = $.supply;
        $.fundingMarks[version] = FundingMark(supply.subsidy, supply.cashback);
        emit FundingPlanActivated(version, supply.subsidy, supply.cashback);
    }

    function _activatePending() private {
        VoucherStorage storage $ = _s();
        uint64 version = $.rulesVersion + 1;
        $.rulesVersion = version; // the pending version becomes the current one, kept as is
        $.pendingAt = 0;
        _mirrorPayRules();
        emit RulesActivated(version, $.rulesByVersion[version]);
    }

    /// @dev Rewrites the payments' copy of the rules in force and the pause flag (VoucherBase
    /// `PayRules`): after every change of either.
    function _mirrorPayRules() private {
        VoucherStorage storage $ = _s();
        PayRules memory copy = _payRulesOf(_rules(), $.paused);
        copy.mirrored = true;
        $.payRules = copy;
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
        // Field by field: a re-registered merchant keeps its running extraTotal, and its
        // discount and platform terms start over.
        m.region = merchantRegion;
        m.category = category;
        m.tier = tier;
        m.status = MerchantStatus.Active;
        m.market = market;
        m.bannedUntil = 0;
        m.extraBps = 0;
        m.platform = false;
        m.platformFeeBps = 0;
        m.excluded = $.excludedCategory[category];
        emit MerchantRegistered(merchant, merchantRegion, category, tier, market);
        if (m.excluded) emit MerchantExclusionSet(merchant, true);
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
        _syncExclusion(merchant, m);
    }

    /// @inheritdoc IVoucherAdmin
    function setPlatform(address merchant, bool platform, uint16 feeBps)
        external
        onlyRole(MERCHANT_REGISTRAR_ROLE)
    {
        if (feeBps > MAX_PLATFORM_FEE_BPS || (!platform && feeBps != 0)) {
            revert VoucherInvalidTerms("platformFeeBps");
        }
        Merchant storage m = _merchant(merchant);
        m.platform = platform;
        m.platformFeeBps = feeBps;
        emit MerchantTermsSet(merchant, m.extraBps, platform, feeBps);
    }

    /// @inheritdoc IVoucherAdmin
    function setExtraDiscount(uint16 extraBps) external {
        if (extraBps > MAX_EXTRA_BPS) revert VoucherInvalidTerms("extraBps");
        address merchant = _msgSender();
        Merchant storage m = _merchant(merchant);
        _requireIdentity(merchant);
        m.extraBps = extraBps;
        emit MerchantTermsSet(merchant, extraBps, m.platform, m.platformFeeBps);
    }

    /// @inheritdoc IVoucherAdmin
    function setExcludedCategory(uint24 category, bool excluded)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _s().excludedCategory[category] = excluded;
        emit CategoryExcludedSet(category, excluded);
    }

    /// @inheritdoc IVoucherAdmin
    function syncMerchantExclusion(address[] calldata merchants) external {
        for (uint256 i = 0; i < merchants.length; ++i) {
            _syncExclusion(merchants[i], _merchant(merchants[i]));
        }
    }

    /// @dev The flag lives in the merchant's slot, which a payment reads anyway: an extra
    /// category lookup would cost every payment a cold read (2,100 gas).
    function _syncExclusion(address merchant, Merchant storage m) private {
        bool excluded = _s().excludedCategory[m.category];
        if (m.excluded == excluded) return;
        m.excluded = excluded;
        emit MerchantExclusionSet(merchant, excluded);
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
        // REWARD_ROOT marks reward programs, whose caps this call would not set.
        if (params.root == bytes32(0) || params.root == REWARD_ROOT) {
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

    function pocketOf(uint256 programId, address holder) external view returns (uint256) {
        return _s().pockets[programId][holder];
    }

    function isClaimed(uint256 programId, uint256 index) external view returns (bool) {
        return _s().claimed[programId][index >> 8] & (1 << (index & 0xff)) != 0;
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

    /// @inheritdoc IVoucherAdmin
    function SIGNED_PAYMENT_TYPEHASH() external pure returns (bytes32) {
        return SIGNED_PAYMENT_TYPE_HASH;
    }

    /// @inheritdoc IVoucherAdmin
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        // No salt, no extensions: a memory array left unassigned is the empty array.
        uint256[] memory none;
        (salt, extensions) = (bytes32(0), none);
        fields = hex"0f";
        name = PAYMENT_DOMAIN_NAME;
        version = PAYMENT_DOMAIN_VERSION;
        chainId = block.chainid;
        verifyingContract = address(this);
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
        return _isOnRecord(merchant, record);
    }

    function isCategoryExcluded(uint24 category) external view returns (bool) {
        return _s().excludedCategory[category];
    }

    function institutionLimitsOf(address institution)
        external
        view
        returns (InstitutionLimits memory)
    {
        return _s().institutionLimits[institution];
    }

    function isInstitutionCategoryBlockedFor(address institution, uint24 category)
        external
        view
        returns (bool)
    {
        return _s().institutionBlockedFor[institution][category];
    }

    function fundingVersion() external view returns (uint256) {
        return _s().fundingVersion;
    }

    function fundingPlan(uint256 version) external view returns (FundingShare[] memory) {
        return _s().fundingPlans[uint64(version)];
    }

    function pendingFundingPlan()
        external
        view
        returns (FundingShare[] memory shares, uint256 effectiveAt)
    {
        VoucherStorage storage $ = _s();
        if ($.fundingPendingAt == 0) return (shares, 0);
        return ($.fundingPlans[$.fundingVersion + 1], $.fundingPendingAt);
    }

    /// @notice Running totals since genesis: discount subsidies and cashback (net).
    function fundingTotals() external view returns (uint256 subsidy, uint256 cashback) {
        VoucherStorage storage $ = _s();
        return ($.supply.subsidy, $.supply.cashback);
    }

    /// @notice What one funding plan version funds: the growth of the running totals while it
    /// was in force. Cashback is net of cancellations booked then, so it can be negative.
    function fundedBy(uint256 version) public view returns (int256 subsidy, int256 cashback) {
        VoucherStorage storage $ = _s();
        uint64 v = uint64(version);
        if (v == 0 || v > $.fundingVersion) revert VoucherInvalidFundingPlan("version");
        FundingMark memory from = $.fundingMarks[v];
        FundingMark memory to = v == $.fundingVersion
            ? FundingMark($.supply.subsidy, $.supply.cashback)
            : $.fundingMarks[v + 1];
        subsidy = int256(uint256(to.subsidyAt)) - int256(uint256(from.subsidyAt));
        cashback = int256(uint256(to.cashbackAt)) - int256(uint256(from.cashbackAt));
    }

    /// @notice One funder's share of every plan version since the first, exactly: shares are
    /// cut by cumulative basis points, so a version's funders add up to its totals to the won.
    function funderTotals(bytes32 funder) external view returns (int256 subsidy, int256 cashback) {
        uint256 versions = _s().fundingVersion;
        for (uint256 v = 1; v <= versions; ++v) {
            (int256 s, int256 c) = fundedBy(v);
            FundingShare[] storage plan = _s().fundingPlans[uint64(v)];
            uint256 subsidyBefore;
            uint256 cashbackBefore;
            for (uint256 i = 0; i < plan.length; ++i) {
                uint256 subsidyUpTo = subsidyBefore + plan[i].subsidyBps;
                uint256 cashbackUpTo = cashbackBefore + plan[i].cashbackBps;
                if (plan[i].funder == funder) {
                    subsidy += _cut(s, subsidyBefore, subsidyUpTo);
                    cashback += _cut(c, cashbackBefore, cashbackUpTo);
                }
                subsidyBefore = subsidyUpTo;
                cashbackBefore = cashbackUpTo;
            }
        }
    }

    /// @dev total * upTo / BPS - total * before / BPS, rounding toward zero for either sign.
    function _cut(int256 total, uint256 before, uint256 upTo) private pure returns (int256) {
        return total * int256(upTo) / int256(BPS) - total * int256(before) / int256(BPS);
    }

    function _merchant(address merchant) private view returns (Merchant storage m) {
        m = _s().merchants[merchant];
        if (m.status == MerchantStatus.None) revert VoucherNotMerchant(merchant);
    }
}
