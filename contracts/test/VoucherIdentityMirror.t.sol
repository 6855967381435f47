// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {IVoucherBase} from "../src/interfaces/IVoucherBase.sol";
import {IVoucherToken} from "../src/interfaces/IVoucherToken.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice Identities mirrored into the tokens' account slots (so a payment makes no registry
/// call): a freeze, a recovery's freeze and a finalised recovery reach every token of the
/// factory at once, and a registry that knows no factory never lets a token mirror.
contract VoucherIdentityMirrorTest is DongneFixture {
    address internal shop;
    address internal citizen;

    function setUp() public override {
        super.setUp();
        shop = newMerchant(47_190, 0);
        citizen = newCitizen();
        buy(citizen, 100_000);
        payGeneral(citizen, shop, 1000); // both parties are mirrored from here on
    }

    function _frozen(address account) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IVoucherBase.VoucherFrozen.selector, account);
    }

    function _setFrozen(address account, bool frozen) internal {
        vm.prank(operator);
        registry.setFrozen(account, frozen);
    }

    function test_freezeOfAMirroredPayerHoldsAtOnce() public {
        _setFrozen(citizen, true);
        vm.expectRevert(_frozen(citizen));
        payGeneral(citizen, shop, 1000);
        _setFrozen(citizen, false);
        payGeneral(citizen, shop, 1000);
        payGeneral(citizen, shop, 1000);
    }

    function test_freezeOfAMirroredMerchantHoldsAtOnce() public {
        _setFrozen(shop, true);
        vm.expectRevert(_frozen(shop));
        payGeneral(citizen, shop, 1000);
        vm.prank(citizen);
        vm.expectRevert(_frozen(shop));
        token.transfer(shop, 1000);
    }

    function test_freezeOfAMirroredGifterHoldsAtOnce() public {
        address friend = newCitizen();
        buy(friend, 10_000);
        vm.prank(citizen);
        token.gift(friend, 100);
        _setFrozen(friend, true);
        vm.prank(citizen);
        vm.expectRevert(_frozen(friend));
        token.gift(friend, 100);
    }

    function test_freezeReachesEveryMunicipality() public {
        IVoucherToken seongnam = deployCity(SEONGNAM, "Seongnam Voucher", "SNV");
        address seongnamShop = newMerchantOf(seongnam, SEONGNAM, 47_190, 0, false);
        vm.prank(issuer);
        seongnam.issue(citizen, 10_000, 9000);
        vm.prank(citizen);
        seongnam.pay(seongnamShop, 1000, bytes32(0), noPrograms());
        _setFrozen(citizen, true);
        vm.prank(citizen);
        vm.expectRevert(_frozen(citizen));
        seongnam.pay(seongnamShop, 1000, bytes32(0), noPrograms());
        vm.expectRevert(_frozen(citizen));
        payGeneral(citizen, shop, 1000);
        vm.prank(issuer);
        vm.expectRevert(_frozen(citizen));
        seongnam.issue(citizen, 1000, 900);
    }

    function test_startedRecoveryFreezesAMirroredWallet() public {
        address fresh = newCitizen();
        vm.prank(operator);
        registry.startRecovery(citizen, fresh);
        vm.expectRevert(_frozen(citizen));
        payGeneral(citizen, shop, 1000);
    }

    function test_finalisedRecoveryFreezesAWalletUnfrozenMeanwhile() public {
        address fresh = newCitizen();
        vm.prank(operator);
        registry.startRecovery(citizen, fresh);
        _setFrozen(citizen, false); // the registrar lets the wallet pay while it waits
        payGeneral(citizen, shop, 1000); // mirrored again
        vm.warp(block.timestamp + 72 hours);
        registry.finalizeRecovery(citizen);
        vm.expectRevert(_frozen(citizen));
        payGeneral(citizen, shop, 1000);
    }

    function test_onlyTheRegistryMakesATokenForget() public {
        vm.prank(citizen);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityNotAuthorized.selector, citizen)
        );
        token.forgetIdentity(citizen);
        vm.prank(address(registry));
        token.forgetIdentity(citizen); // the next movement asks the registry again
        payGeneral(citizen, shop, 1000);
    }

    function test_mirrorableOnlyForTheFactorysTokenOfTheRegion() public {
        bool mirrorable;
        vm.prank(address(token));
        (,,,, mirrorable) = registry.mirrorableIdentitiesOf(citizen, shop, SIHEUNG);
        assertTrue(mirrorable, "the factory's token of its region");
        vm.prank(address(token));
        (,,,, mirrorable) = registry.mirrorableIdentitiesOf(citizen, shop, SEONGNAM);
        assertFalse(mirrorable, "another region's");
        vm.prank(citizen);
        (,,,, mirrorable) = registry.mirrorableIdentitiesOf(citizen, shop, SIHEUNG);
        assertFalse(mirrorable, "not a token");
        assertEq(registry.factory(), address(factory), "factory");
    }

    function test_withoutAFactoryNothingIsMirrored() public {
        vm.prank(operator);
        registry.setFactory(address(0));
        address other = newCitizen();
        buy(other, 10_000); // asks the registry, which allows no mirror
        payGeneral(other, shop, 1000);
        _setFrozen(other, true); // pushed nowhere
        vm.expectRevert(_frozen(other));
        payGeneral(other, shop, 1000);
    }

    function test_onlyTheRegistryAdminSetsTheFactory() public {
        vm.prank(citizen);
        vm.expectRevert();
        registry.setFactory(citizen);
    }
}
