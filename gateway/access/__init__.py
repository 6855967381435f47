"""Who is calling: sign-in with Ethereum, tokens, API keys, roles from the chain, the route
policies, and the two logs residents and auditors can trust (staff actions, data access).

Services only: nothing here knows HTTP. ``gateway.http`` reads the credentials of a request,
asks :func:`~gateway.access.policies.authorize` and records reads in the data-access log.
Signed wallet requests (``POST /v1/requests``) need none of this: their EIP-712 signature is
their authentication.
"""
