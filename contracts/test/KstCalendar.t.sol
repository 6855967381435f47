// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {KstCalendar} from "../src/libraries/KstCalendar.sol";
import {Test} from "./utils/Test.sol";

/// @notice KstCalendar.monthOf runs unchecked (it is on every payment's path): it must answer
/// exactly what the checked algorithm answers, and KST month boundaries must fall at 15:00 UTC.
contract KstCalendarTest is Test {
    function test_monthStartsAtMidnightKst() public pure {
        // 2026-12-01 00:00 KST is 2026-11-30 15:00 UTC.
        assertEq(KstCalendar.monthOf(1_796_050_800), 2026 * 12 + 11, "December");
        assertEq(KstCalendar.monthOf(1_796_050_799), 2026 * 12 + 10, "November");
        // 2024-03-01 00:00 KST, after a leap day.
        assertEq(KstCalendar.monthOf(1_709_218_800), 2024 * 12 + 2, "March");
        assertEq(KstCalendar.monthOf(1_709_218_799), 2024 * 12 + 1, "February");
        assertEq(KstCalendar.monthOf(0), 1970 * 12, "epoch");
    }

    function testFuzz_monthOfIsTheCheckedAlgorithm(uint64 timestamp) public pure {
        assertEq(KstCalendar.monthOf(timestamp), checkedMonthOf(timestamp), "month");
    }

    /// @dev The algorithm as it was, with Solidity's checked arithmetic.
    function checkedMonthOf(uint256 timestamp) internal pure returns (uint24) {
        uint256 z = (timestamp + 9 hours) / 1 days + 719_468;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097;
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint256 mp = (5 * doy + 2) / 153;
        uint256 month = mp < 10 ? mp + 3 : mp - 9;
        uint256 year = yoe + era * 400 + (month <= 2 ? 1 : 0);
        return uint24(year * 12 + month - 1);
    }
}
