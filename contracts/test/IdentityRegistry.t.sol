// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IIdentityRegistry} from "../src/interfaces/IIdentityRegistry.sol";
import {DongneFixture} from "./utils/DongneFixture.sol";

/// @notice The network-wide KYC registry: who may register, freeze and re-kind wallets, and
/// what every voucher token reads back.
contract IdentityRegistryTest is DongneFixture {
    address internal bank = address(0xBA4C);
    address internal stranger = address(0x5742);
    address internal alice = address(0xA11);
    address internal bob = address(0xB0B);

    bytes32 internal registrarRole;

    function setUp() public override {
        super.setUp();
        registrarRole = registry.REGISTRAR_ROLE();
        vm.prank(operator);
        registry.grantRole(registrarRole, bank);
    }

    // ------------------------------------------------------------------ roles

    function test_constructor_grantsAdminAndRegistrar() public view {
        assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), operator), "admin");
        assertTrue(registry.hasRole(registrarRole, operator), "registrar");
        assertEq(registrarRole, keccak256("REGISTRAR_ROLE"), "role id");
    }

    function test_register_byGrantedRegistrar() public {
        vm.prank(bank);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        (IIdentityRegistry.Kind kind,) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.Citizen), "kind");
    }

    function test_RevertWhen_registerAfterRegistrarRevoked() public {
        vm.prank(operator);
        registry.revokeRole(registrarRole, bank);
        vm.prank(bank);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, bank, registrarRole
            )
        );
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
    }

    function test_RevertWhen_grantRoleByRegistrar() public {
        bytes32 adminRole = registry.DEFAULT_ADMIN_ROLE();
        vm.prank(bank);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, bank, adminRole
            )
        );
        registry.grantRole(registrarRole, stranger);
    }

    // ------------------------------------------------------------------ register

    function test_register_recordsKindUnfrozen() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Merchant);
        (IIdentityRegistry.Kind kind, bool frozen) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.Merchant), "kind");
        assertFalse(frozen, "frozen");
    }

    function test_register_emitsIdentityRegistered() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.IdentityRegistered(alice, IIdentityRegistry.Kind.Institution, bank);
        vm.prank(bank);
        registry.register(alice, IIdentityRegistry.Kind.Institution);
    }

    function test_RevertWhen_registerZeroAddress() public {
        vm.prank(operator);
        vm.expectRevert(IIdentityRegistry.IdentityZeroAddress.selector);
        registry.register(address(0), IIdentityRegistry.Kind.Citizen);
    }

    function test_RevertWhen_registerKindNone() public {
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidKind.selector, alice)
        );
        registry.register(alice, IIdentityRegistry.Kind.None);
    }

    function test_RevertWhen_registerTwice() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        vm.prank(bank);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityAlreadyRegistered.selector,
                alice,
                IIdentityRegistry.Kind.Citizen
            )
        );
        registry.register(alice, IIdentityRegistry.Kind.Merchant);
    }

    function test_RevertWhen_registerByNonRegistrar() public {
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registrarRole
            )
        );
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
    }

    function test_RevertWhen_registerByCityAdmin() public {
        // A municipality's admin is no KYC registrar of the network.
        vm.prank(cityAdmin);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, cityAdmin, registrarRole
            )
        );
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
    }

    // ------------------------------------------------------------------ registerBatch

    function test_registerBatch_registersEveryWallet() public {
        address[] memory accounts = _wallets(5);
        vm.prank(bank);
        registry.registerBatch(accounts, IIdentityRegistry.Kind.Citizen);
        for (uint256 i = 0; i < accounts.length; ++i) {
            (IIdentityRegistry.Kind kind, bool frozen) = registry.identityOf(accounts[i]);
            assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.Citizen), "kind");
            assertFalse(frozen, "frozen");
        }
    }

    function test_registerBatch_emitsOneEventPerWallet() public {
        address[] memory accounts = _wallets(3);
        for (uint256 i = 0; i < accounts.length; ++i) {
            vm.expectEmit(true, true, true, true, address(registry));
            emit IIdentityRegistry.IdentityRegistered(
                accounts[i], IIdentityRegistry.Kind.Merchant, operator
            );
        }
        vm.prank(operator);
        registry.registerBatch(accounts, IIdentityRegistry.Kind.Merchant);
    }

    function test_registerBatch_emptyListDoesNothing() public {
        vm.recordLogs();
        vm.prank(operator);
        registry.registerBatch(new address[](0), IIdentityRegistry.Kind.Citizen);
        assertEq(vm.getRecordedLogs().length, 0, "logs");
    }

    function test_RevertWhen_registerBatchRepeatsAWallet() public {
        address[] memory accounts = _wallets(3);
        accounts[2] = accounts[0];
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityAlreadyRegistered.selector,
                accounts[0],
                IIdentityRegistry.Kind.Citizen
            )
        );
        registry.registerBatch(accounts, IIdentityRegistry.Kind.Citizen);
    }

    function test_RevertWhen_registerBatchHasRegisteredWallet_registersNone() public {
        vm.prank(operator);
        registry.register(bob, IIdentityRegistry.Kind.Merchant);
        address[] memory accounts = new address[](2);
        accounts[0] = alice;
        accounts[1] = bob;
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                IIdentityRegistry.IdentityAlreadyRegistered.selector,
                bob,
                IIdentityRegistry.Kind.Merchant
            )
        );
        registry.registerBatch(accounts, IIdentityRegistry.Kind.Citizen);
        (IIdentityRegistry.Kind kind,) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.None), "batch is atomic");
    }

    function test_RevertWhen_registerBatchHasZeroAddress() public {
        address[] memory accounts = _wallets(2);
        accounts[1] = address(0);
        vm.prank(operator);
        vm.expectRevert(IIdentityRegistry.IdentityZeroAddress.selector);
        registry.registerBatch(accounts, IIdentityRegistry.Kind.Citizen);
    }

    function test_RevertWhen_registerBatchKindNone() public {
        address[] memory accounts = _wallets(2);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityInvalidKind.selector, accounts[0])
        );
        registry.registerBatch(accounts, IIdentityRegistry.Kind.None);
    }

    function test_RevertWhen_registerBatchByNonRegistrar() public {
        address[] memory accounts = _wallets(2);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registrarRole
            )
        );
        registry.registerBatch(accounts, IIdentityRegistry.Kind.Citizen);
    }

    // ------------------------------------------------------------------ kinds are immutable

    /// Issue 12, item 15 replayed: a citizen's wallet cannot become a merchant's (it would redeem
    /// discounted vouchers at face value), nor the other way round - not by registering it
    /// again, and there is no function that changes a kind.
    function test_RevertWhen_aRegisteredWalletChangesKind() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        for (uint8 k = 1; k <= 3; ++k) {
            vm.prank(bank);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IIdentityRegistry.IdentityAlreadyRegistered.selector,
                    alice,
                    IIdentityRegistry.Kind.Citizen
                )
            );
            registry.register(alice, IIdentityRegistry.Kind(k));
        }
        vm.prank(operator);
        (bool ok,) = address(registry)
            .call(abi.encodeWithSignature("setKind(address,uint8)", alice, uint8(2)));
        assertFalse(ok, "no setKind");
        (IIdentityRegistry.Kind kind,) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.Citizen), "still a citizen");
    }

    // ------------------------------------------------------------------ setFrozen

    function test_setFrozen_freezesAndEmits() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.IdentityFrozenSet(alice, true, bank);
        vm.prank(bank);
        registry.setFrozen(alice, true);
        (IIdentityRegistry.Kind kind, bool frozen) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.Citizen), "kind kept");
        assertTrue(frozen, "frozen");
    }

    function test_setFrozen_unfreezesAndEmits() public {
        vm.startPrank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        registry.setFrozen(alice, true);
        vm.stopPrank();
        vm.expectEmit(true, true, true, true, address(registry));
        emit IIdentityRegistry.IdentityFrozenSet(alice, false, operator);
        vm.prank(operator);
        registry.setFrozen(alice, false);
        (, bool frozen) = registry.identityOf(alice);
        assertFalse(frozen, "unfrozen");
    }

    function test_RevertWhen_setFrozenUnregistered() public {
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(IIdentityRegistry.IdentityUnregistered.selector, alice)
        );
        registry.setFrozen(alice, true);
    }

    function test_RevertWhen_setFrozenByNonRegistrar() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        vm.prank(stranger);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, stranger, registrarRole
            )
        );
        registry.setFrozen(alice, true);
    }

    // ------------------------------------------------------------------ views

    function test_identityOf_unregisteredIsNone() public view {
        (IIdentityRegistry.Kind kind, bool frozen) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(IIdentityRegistry.Kind.None), "kind");
        assertFalse(frozen, "frozen");
    }

    function test_identitiesOf_returnsBothParties() public {
        vm.startPrank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        registry.register(bob, IIdentityRegistry.Kind.Merchant);
        registry.setFrozen(bob, true);
        vm.stopPrank();
        (IIdentityRegistry.Kind kindA, bool frozenA, IIdentityRegistry.Kind kindB, bool frozenB) =
            registry.identitiesOf(alice, bob);
        assertEq(uint8(kindA), uint8(IIdentityRegistry.Kind.Citizen), "kind a");
        assertFalse(frozenA, "frozen a");
        assertEq(uint8(kindB), uint8(IIdentityRegistry.Kind.Merchant), "kind b");
        assertTrue(frozenB, "frozen b");
    }

    function test_identitiesOf_sameWalletTwice() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Institution);
        (IIdentityRegistry.Kind kindA,, IIdentityRegistry.Kind kindB,) =
            registry.identitiesOf(alice, alice);
        assertEq(uint8(kindA), uint8(IIdentityRegistry.Kind.Institution), "kind a");
        assertEq(uint8(kindB), uint8(IIdentityRegistry.Kind.Institution), "kind b");
    }

    function test_identitiesOf_unregisteredPartyIsNone() public {
        vm.prank(operator);
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
        (,, IIdentityRegistry.Kind kindB, bool frozenB) = registry.identitiesOf(alice, bob);
        assertEq(uint8(kindB), uint8(IIdentityRegistry.Kind.None), "kind b");
        assertFalse(frozenB, "frozen b");
    }

    // ------------------------------------------------------------------ fuzz

    function testFuzz_register_anyWalletAnyKind(address account, uint8 rawKind) public {
        vm.assume(account != address(0));
        IIdentityRegistry.Kind kind = IIdentityRegistry.Kind(bound(rawKind, 1, 3));
        (IIdentityRegistry.Kind before,) = registry.identityOf(account);
        vm.assume(before == IIdentityRegistry.Kind.None);
        vm.prank(bank);
        registry.register(account, kind);
        (IIdentityRegistry.Kind stored, bool frozen) = registry.identityOf(account);
        assertEq(uint8(stored), uint8(kind), "kind");
        assertFalse(frozen, "frozen");
    }

    function testFuzz_registerBatch_registersEveryDistinctWallet(uint256 count, uint8 rawKind)
        public
    {
        count = bound(count, 1, 40);
        IIdentityRegistry.Kind kind = IIdentityRegistry.Kind(bound(rawKind, 1, 3));
        address[] memory accounts = _wallets(count);
        vm.prank(operator);
        registry.registerBatch(accounts, kind);
        for (uint256 i = 0; i < count; ++i) {
            (IIdentityRegistry.Kind stored,) = registry.identityOf(accounts[i]);
            assertEq(uint8(stored), uint8(kind), "kind");
        }
    }

    function testFuzz_kindSurvivesFreezing(uint8 fromKind, bool frozen) public {
        IIdentityRegistry.Kind a = IIdentityRegistry.Kind(bound(fromKind, 1, 3));
        vm.startPrank(bank);
        registry.register(alice, a);
        registry.setFrozen(alice, frozen);
        vm.stopPrank();
        (IIdentityRegistry.Kind kind, bool isFrozen) = registry.identityOf(alice);
        assertEq(uint8(kind), uint8(a), "kind");
        assertEq(isFrozen, frozen, "frozen");
    }

    function testFuzz_RevertWhen_nonRegistrarWrites(address caller) public {
        vm.assume(caller != operator && caller != bank);
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, caller, registrarRole
            )
        );
        registry.register(alice, IIdentityRegistry.Kind.Citizen);
    }

    // ------------------------------------------------------------------ helpers

    function _wallets(uint256 count) private pure returns (address[] memory accounts) {
        accounts = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            accounts[i] = address(uint160(0x1D000 + i));
        }
    }
}
