"""In-app voucher purchases: orders, the payment provider adapter, the sales agent.

A resident orders vouchers (``orders``), pays into a virtual account the provider issued
(``provider``, ``http_bank``), the provider's signed webhook (``webhooks``) marks the order
paid, and the sales agent (``agent``) issues the vouchers on chain with the city's ISSUER key,
or refunds through the provider when the chain refuses the sale.
"""
