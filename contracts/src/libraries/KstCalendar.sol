// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Calendar months in Korea Standard Time
/// @notice Monthly caps (purchase, gift, cashback base) reset on the first of each month in
/// Korea (UTC+9), not every 30 days, so the counters match what citizens read in the rules.
library KstCalendar {
    uint256 private constant KST_OFFSET = 9 hours;

    /// @notice Days since 1970-01-01 in KST: the day a reward's daily cap counts against.
    function dayOf(uint256 timestamp) internal pure returns (uint32) {
        return uint32((timestamp + KST_OFFSET) / 1 days);
    }

    /// @notice Months since year 0 (year * 12 + month - 1) of `timestamp` in KST.
    /// @dev Howard Hinnant's days-to-civil algorithm, unsigned since timestamps are >= 1970.
    /// Unchecked: every payment with cashback runs this, and the checks cost more than the
    /// algorithm (~1.5k gas). Nothing can overflow for a block timestamp (< 2^64), and no
    /// subtraction can underflow: doe < 146,097 bounds each term as the algorithm intends.
    function monthOf(uint256 timestamp) internal pure returns (uint24) {
        unchecked {
            uint256 z = (timestamp + KST_OFFSET) / 1 days + 719_468;
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
}
