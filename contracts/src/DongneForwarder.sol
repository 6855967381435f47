// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title DongneForwarder
/// @notice OpenZeppelin's ERC2771Forwarder, unchanged, under the network's EIP-712 name. Every
/// voucher token trusts it; the gateway relays citizens' signed requests through
/// `execute`/`executeBatch`, so citizens never hold gas.
contract DongneForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("DongneForwarder") {}
}
