"""The light floor of Dongne: everything a wallet app needs to speak to the contracts.

Hashing (keccak-256, EIP-55), the committed ABIs and what is derived from them, calldata
builders, the EIP-712 forward request, typed reverts and Merkle trees. It imports nothing else
of ours (``tests/test_layers.py`` checks), and only light libraries (eth-abi, eth-utils,
coincurve, pycryptodome), so ``wallet_sdk`` can depend on it without the server stack.
"""
