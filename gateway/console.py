"""The `dongne` console script's entry point, importable with the base install alone.

The base distribution (`pip install dongne`) is the wallet SDK; the command line needs the
`gateway` extra. Without it, importing the CLI would end in a traceback about `typer`, so the
import is deferred to here and a missing dependency becomes one line naming the extra.
"""

from __future__ import annotations

import sys

# Top-level modules that only the `gateway` extra installs (pyproject.toml).
GATEWAY_EXTRA_MODULES = frozenset(
    {
        "web3", "solcx", "fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg",
        "pydantic", "pydantic_settings", "typer", "rich", "aiohttp", "orjson",
        "prometheus_client", "starlette", "click",
    }
)  # fmt: skip
EXIT_UNAVAILABLE = 3


def main() -> None:
    try:
        from gateway.cli import main as cli_main  # deferred: see the module docstring
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in GATEWAY_EXTRA_MODULES:
            raise
        print(
            f"dongne: the command line needs the gateway extra (module {missing!r} is missing):"
            " pip install 'dongne[gateway]'",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_UNAVAILABLE) from None
    cli_main()
