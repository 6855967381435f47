// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherAdmin} from "./IVoucherAdmin.sol";
import {IVoucherCore} from "./IVoucherCore.sol";
import {IVoucherServices} from "./IVoucherServices.sol";

/// @title A municipality's voucher token (지역사랑상품권)
/// @notice Amounts are whole won (`decimals() == 0`). The general pocket holds purchased money
/// and is the ERC-20 surface; each policy program has its own pocket per holder. Money moves only
/// along allowed edges: citizen -> merchant of this municipality (payment), merchant -> citizen
/// (cancellation of a recorded payment), citizen -> citizen (gift, when enabled), merchant ->
/// burn (redemption) and citizen -> burn (cash refund). Every other movement reverts with an
/// error that names the rule.
/// @dev The full ABI of a municipality's proxy: the core, the admin module it delegates to and
/// the services module the admin module delegates to.
interface IVoucherToken is IVoucherCore, IVoucherAdmin, IVoucherServices {}
