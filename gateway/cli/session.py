"""`dongne login | logout | whoami`: city staff and auditors sign in with their own key.

The key is the caller's (`DONGNE_KEY`, or `DONGNE_KEYSTORE` + `DONGNE_PASSWORD`; the
operator's `DONGNE_DEPLOYER_*` key otherwise). The session is kept per gateway in
`$XDG_CONFIG_HOME/dongne/sessions.json` (or `DONGNE_CONFIG_DIR`), readable by the user only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.cli.common import JsonOut, caller_account, console, emit, fail
from gateway.cli.gateway_api import GatewayUrl, gateway_call

__all__ = ["login", "logout", "session_headers", "sign_in", "whoami"]


def _store() -> Path:
    base = os.environ.get("DONGNE_CONFIG_DIR")
    if base is None:
        base = str(Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "dongne")
    return Path(base) / "sessions.json"


def _sessions() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_store().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(sessions: dict[str, dict[str, object]]) -> None:
    path = _store()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written 0600 from the start: a session is a credential.
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(sessions, out, indent=2)
    os.replace(path.with_suffix(".tmp"), path)


def session_headers(gateway: str) -> dict[str, str]:
    session = _sessions().get(gateway.rstrip("/"))
    token = session.get("access_token") if session else None
    return {"authorization": f"Bearer {token}"} if isinstance(token, str) else {}


def sign_in(gateway: str) -> str:
    """Signs in to ``gateway`` with the caller's key and saves the session; its base URL."""
    from wallet_sdk.client.signin import siwe_message
    from wallet_sdk.keys import LocalKey

    account = caller_account()
    key = LocalKey.from_private_key("0x" + bytes(account.key).hex())
    url = gateway.rstrip("/")
    sessions = _sessions()
    sessions.pop(url, None)
    _save(sessions)
    offer = gateway_call(url, "GET", "/v1/auth/nonce")
    if not isinstance(offer, dict):
        fail("the gateway answered no sign-in nonce")
    text = siwe_message(domain=str(offer["domain"]), address=key.address, uri=str(offer["uri"]),
                        chain_id=int(offer["chain_id"]), nonce=str(offer["nonce"]),
                        statement=str(offer["statement"]))  # fmt: skip
    body = {"message": text, "signature": "0x" + key.sign_message(text).hex()}
    session = gateway_call(url, "POST", "/v1/auth/login", body=body)
    if not isinstance(session, dict):
        fail("the gateway answered no session")
    sessions[url] = session
    _save(sessions)
    return url


def login(gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False) -> None:
    """Sign in to a gateway with your own key (Sign-In with Ethereum).

    Example: DONGNE_KEYSTORE=~/auditor.json dongne login --gateway https://gw.city.go.kr
    """
    url = sign_in(gateway)
    me = gateway_call(url, "GET", "/v1/me")
    emit(me, as_json, lambda: console.print(f"signed in as {caller_account().address} at {url}"))


def logout(gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False) -> None:
    """End your session at a gateway (its tokens stop working at once).

    Example: dongne logout --gateway https://gw.city.go.kr
    """
    url = gateway.rstrip("/")
    if session_headers(url):
        gateway_call(url, "POST", "/v1/auth/logout")
    sessions = _sessions()
    sessions.pop(url, None)
    _save(sessions)
    emit({"gateway": url, "signed_in": False}, as_json, lambda: console.print("signed out"))


def whoami(gateway: GatewayUrl = "http://127.0.0.1:8000", as_json: JsonOut = False) -> None:
    """Who the gateway takes you for, and your roles there (read from the chain).

    Example: dongne whoami
    """
    me = gateway_call(gateway.rstrip("/"), "GET", "/v1/me")
    emit(me, as_json, lambda: console.print_json(data=me))
