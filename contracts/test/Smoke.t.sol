// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {DongneFixture} from "./utils/DongneFixture.sol";

contract SmokeTest is DongneFixture {
    function test_buyAndPay_movesMoney() public {
        address citizen = newCitizen();
        address merchant = newMerchant(KSIC_RESTAURANT, 0);
        buy(citizen, 100_000);
        payGeneral(citizen, merchant, 30_000);
        assertEq(token.balanceOf(merchant), 30_000, "merchant");
        // 10% cashback on 30k for a tier-0 merchant
        assertEq(token.balanceOf(citizen), 73_000, "citizen");
        assertEq(token.totalSupply(), 103_000, "supply");
    }
}
