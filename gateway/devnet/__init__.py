"""The local development network: anvil, contracts, demo cities, and a gateway process."""
