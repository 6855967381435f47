"""HTTP routers of the gateway."""
