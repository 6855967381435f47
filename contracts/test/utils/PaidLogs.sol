// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVoucherBase} from "../../src/interfaces/IVoucherBase.sol";
import {IVoucherTypes} from "../../src/interfaces/IVoucherTypes.sol";
import {Vm} from "./Vm.sol";

/// @notice Reads a payment's record back from its event, as a merchant does to cancel it:
/// `Paid` (no pockets named) or `PaidWithPockets`.
library PaidLogs {
    function isPaid(Vm.Log memory log) internal pure returns (bool) {
        bytes32 topic = log.topics[0];
        return topic == IVoucherBase.Paid.selector || topic == IVoucherBase.PaidWithPockets.selector;
    }

    /// @dev Fills the fields of `rec` the event carries (not extra, platform, fee).
    function read(Vm.Log memory log, IVoucherTypes.PaymentRecord memory rec) internal pure {
        rec.payer = address(uint160(uint256(log.topics[1])));
        rec.paymentId = log.topics[3];
        if (log.topics[0] == IVoucherBase.Paid.selector) {
            (rec.seq, rec.amount, rec.fromGeneral, rec.cashback) =
                abi.decode(log.data, (uint256, uint256, uint256, uint256));
            rec.programIds = new uint256[](0);
            rec.programAmounts = new uint256[](0);
        } else {
            (
                rec.seq,
                rec.amount,
                rec.fromGeneral,
                rec.cashback,
                rec.programIds,
                rec.programAmounts
            ) = abi.decode(log.data, (uint256, uint256, uint256, uint256, uint256[], uint256[]));
        }
    }
}
