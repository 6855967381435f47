"""The folder tree is the layer diagram (DESIGN.md, "Layers"): this test reads every import.

floor 0  chain.protocol   imports nothing else of ours
floor 1  chain            never gateway or wallet_sdk
floor 2  gateway.<svc>    never gateway.http or gateway.cli
floor 3  gateway.http     the only package importing fastapi / starlette
floor 4  gateway.cli      the only package importing typer / rich
side     wallet_sdk       only chain.protocol of ours, and none of the server stack

A violation fails naming the file, the line and the import, so the fix is obvious.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("chain", "gateway", "wallet_sdk")
SERVER_STACK = ("fastapi", "starlette", "sqlalchemy", "alembic", "web3", "aiohttp", "uvicorn")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    path: str  # relative file path
    line: int
    target: str  # the imported module, dotted

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> Iterator[Import]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            rel = str(path.relative_to(ROOT))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield Import(module, rel, node.lineno, alias.name)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    yield Import(module, rel, node.lineno, node.module)
                    # `from gateway import audit` imports gateway.audit
                    for alias in node.names:
                        yield Import(module, rel, node.lineno, f"{node.module}.{alias.name}")


ALL = list(_imports())


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(
    importer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    return [
        str(i)
        for i in ALL
        if _within(i.module, importer)
        and any(_within(i.target, f) for f in forbidden)
        and not any(_within(i.target, a) for a in allowed)
    ]


def test_imports_were_found() -> None:
    # A parser that finds nothing would pass every rule below.
    assert len(ALL) > 500
    assert any(i.target == "fastapi" for i in ALL)


def test_chain_protocol_imports_nothing_else_of_ours() -> None:
    bad = _violations("chain.protocol", ("chain", "gateway", "wallet_sdk"), ("chain.protocol",))
    assert not bad, "\n".join(bad)


def test_chain_protocol_imports_no_server_stack() -> None:
    bad = _violations("chain.protocol", (*SERVER_STACK, "httpx", "typer", "rich"))
    assert not bad, "\n".join(bad)


def test_chain_never_imports_gateway_or_sdk() -> None:
    bad = _violations("chain", ("gateway", "wallet_sdk"))
    assert not bad, "\n".join(bad)


def test_wallet_sdk_imports_only_chain_protocol() -> None:
    bad = _violations("wallet_sdk", ("chain", "gateway"), ("chain.protocol",))
    bad += _violations("wallet_sdk", (*SERVER_STACK, "typer", "rich"))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("framework", ["fastapi", "starlette"])
def test_only_gateway_http_imports_the_web_framework(framework: str) -> None:
    bad = [
        str(i)
        for i in ALL
        if _within(i.target, framework) and not _within(i.module, "gateway.http")
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("framework", ["typer", "rich"])
def test_only_gateway_cli_imports_the_terminal_framework(framework: str) -> None:
    bad = [
        str(i) for i in ALL if _within(i.target, framework) and not _within(i.module, "gateway.cli")
    ]
    assert not bad, "\n".join(bad)


def test_gateway_services_never_import_their_faces() -> None:
    faces = ("gateway.http", "gateway.cli")
    # The console script's entry is the CLI's front door: it may import the CLI, lazily.
    entries = (*faces, "gateway.console")
    bad = [
        str(i)
        for i in ALL
        if _within(i.module, "gateway")
        and not any(_within(i.module, f) for f in entries)
        and any(_within(i.target, f) for f in faces)
    ]
    assert not bad, "\n".join(bad)


def test_http_face_never_imports_the_cli() -> None:
    bad = _violations("gateway.http", ("gateway.cli",))
    assert not bad, "\n".join(bad)


# The base install (`pip install .`) has none of the server stack; importing the SDK must not
# reach for it even where it is installed (it is, in the dev venv), or a wallet app breaks.
SERVER_STACK = ("fastapi", "starlette", "sqlalchemy", "alembic", "web3", "aiohttp", "uvicorn")


def test_importing_the_sdk_loads_no_server_stack() -> None:
    code = (
        "import sys, wallet_sdk, wallet_sdk.client, wallet_sdk.exceptions, wallet_sdk.qr\n"
        f"stack = {SERVER_STACK!r}\n"
        "ours = ('gateway', 'chain')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in stack\n"
        "             or (m.split('.')[0] in ours and m != 'chain'\n"
        "                 and not m.startswith('chain.protocol')))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]", f"importing wallet_sdk loaded {out.strip()}"


def test_console_script_names_the_missing_extra() -> None:
    # A base install has no typer: block it the way a missing package fails to import.
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'typer':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from gateway.console import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 3
    assert "pip install 'dongne[gateway]'" in done.stderr
    assert "Traceback" not in done.stderr
