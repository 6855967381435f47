"""A BANK SIMULATOR for the local network and tests: not a bank, holds no money.

It plays the payment provider of in-app voucher sales (virtual accounts, deposits, refunds,
transfers to merchants) over HTTP, with controls that inject the failures a real provider
shows (duplicated, delayed or refused webhooks; a deposit of the wrong amount). Its API is
documented in ``docs/bank-sim.md`` and in :mod:`gateway.banksim.server`.
"""

SIMULATOR = "dongne-bank-sim"
