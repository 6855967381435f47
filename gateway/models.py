"""Every table of the gateway, registered on one metadata for Alembic."""

from gateway.relay_tables import batches, requests

__all__ = ["batches", "requests"]
