// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VoucherBase} from "../../src/VoucherBase.sol";

/// @notice Not deployed: declares the token's ERC-7201 namespace as a state variable so that
/// `forge inspect ... storageLayout` describes every field of it (a namespaced struct does not
/// appear in the layout of the contract that uses it). `scripts/check_layout.py` compares the
/// result with `contracts/layout/VoucherStorage.json` on every build in CI.
contract VoucherStorageLayout {
    VoucherBase.VoucherStorage internal voucherStorage;
}
