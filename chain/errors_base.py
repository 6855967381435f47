"""Root of the ``chain`` package's exception hierarchy.

Every error raised on purpose by ``chain`` derives from :class:`DongneChainError`, so callers
(the gateway, the CLI) can catch the whole layer in one clause. Subclasses also inherit the
builtin exception that describes them best (``FileNotFoundError``, ``ConnectionError``, ...) so
code that only knows the standard library still handles them sensibly.
"""

from __future__ import annotations

__all__ = ["DongneChainError"]


class DongneChainError(Exception):
    """Base class of every error the ``chain`` package raises deliberately."""
