"""Serves the portal (``gateway.portal``): its pages, their scripts and styles, payment QR
codes, and on the local demo network only, the demo wallets.

    GET /portal                     sign-in (with the wallet; demo wallets on loopback --demo)
    GET /portal/{section}/{name}    a page, e.g. /portal/officer/dashboard
    GET /portal/static/{asset}      the portal's own scripts and styles, and the wallet bundle
    GET /portal/vendor/{name}       pinned npm assets (ECharts), from node_modules
    GET /portal/qr.svg              a merchant's EIP-681 payment QR (static, or an invoice)
    GET /portal/demo/wallets        demo keys: only with a demo key file, on loopback, with no
                                    proxy in between, for the run's secret (X-Dongne-Demo)

Pages carry no data: their scripts read the JSON API with the signed-in session, so every
figure a page shows passed the API's policy. Nothing is loaded from another origin.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from chain.toolchain import project_root
from gateway.errors import GatewayError
from gateway.http.deps import ManifestDep, SettingsDep
from gateway.http.params import ADDRESS_PATTERN
from gateway.portal import LANGUAGES, MESSAGES, PAGES, PORTAL_DIR, Language, Page, message, page
from gateway.settings import Settings
from wallet_sdk.exceptions.base import InvalidPaymentUriError
from wallet_sdk.qr import PaymentRequest

__all__ = ["VENDOR", "router"]

router = APIRouter(include_in_schema=False)

_TEMPLATES = Environment(
    loader=FileSystemLoader(PORTAL_DIR / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_STATIC = PORTAL_DIR / "static"
# npm files the pages load, by the name they are served under (pinned in package.json).
VENDOR: dict[str, tuple[str, str]] = {
    "echarts.min.js": ("echarts", "dist/echarts.min.js"),
}
VendorName = Literal["echarts.min.js"]
_LANG_COOKIE = "dongne_lang"
_CACHE = {"Cache-Control": "no-cache"}  # revalidated: the files change with every release
# Headers a reverse proxy or forwarder adds: with any of them the caller may be anyone.
_PROXY_HEADERS = (
    "forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "via",
)  # fmt: skip
_DEMO_HEADER = "x-dongne-demo"


def _csp(connect: str = "") -> str:
    """The portal's Content-Security-Policy: its own origin only (``connect`` adds the demo
    network's JSON-RPC origin, which the demo wallets call from the browser)."""
    return (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        f"script-src 'self'; connect-src 'self'{connect}; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    )


def _security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


_SECURITY = _security_headers(_csp())
# A QR code is an image: it may load nothing and run nothing.
_QR_SECURITY = _security_headers("default-src 'none'; frame-ancestors 'none'")


def _language(request: Request, asked: str | None) -> Language:
    for candidate in (asked, request.cookies.get(_LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return "ko"


def _render(request: Request, template: str, current: Page | None, lang: str | None) -> Response:
    language = _language(request, lang)
    words = {key: message(key, language) for key in MESSAGES}
    settings: Settings = request.app.state.settings
    demo = _demo_offered(request, settings)
    html = _TEMPLATES.get_template(template).render(
        lang=language,
        t=lambda key, **values: words[key].format(**values) if values else words[key],
        page=current,
        pages=[p for p in PAGES if p.in_menu],
        sections=("officer", "auditor", "merchant", "resident"),
        messages_json=json.dumps(words, ensure_ascii=False).replace("</", "<\\/"),
        demo=demo,
        path=request.url.path,
    )
    security = _SECURITY
    if demo:
        rpc = _public_rpc_url(settings.rpc_url)
        origin = urlsplit(rpc)
        security = _security_headers(_csp(f" {origin.scheme}://{origin.netloc}"))
    headers = {**_CACHE, **security, "Content-Language": language}
    response = HTMLResponse(html, headers=headers)
    if lang in LANGUAGES:
        response.set_cookie(_LANG_COOKIE, language, max_age=365 * 86_400, samesite="lax")
    return response


LangQuery = Annotated[str | None, Query(max_length=2, description="ko (default) or en")]


@router.get("/portal")
def portal_home(request: Request, lang: LangQuery = None) -> Response:
    """The sign-in page, which then sends each visitor to their pages."""
    return _render(request, "signin.html", None, lang)


@router.get("/portal/")
def portal_slash(request: Request) -> RedirectResponse:
    # The query stays: `dongne up --demo` prints /portal/?demo=<secret> style URLs too.
    query = request.url.query
    return RedirectResponse("/portal" + (f"?{query}" if query else ""), status_code=308)


@router.get("/portal/static/{asset:path}")
def portal_static(asset: Annotated[str, PathParam(max_length=100)]) -> FileResponse:
    path = (_STATIC / asset).resolve()
    if not path.is_relative_to(_STATIC) or not path.is_file():
        if asset.startswith("build/"):
            raise GatewayError(
                "NotReady", "the portal's bundle is not built: run bash scripts/bootstrap.sh"
            )
        raise GatewayError("NotFound", f"no portal asset {asset}", {"asset": asset[:100]})
    return FileResponse(path, headers={**_CACHE, **_SECURITY})


@router.get("/portal/vendor/{name}")
def portal_vendor(name: Annotated[VendorName, PathParam()]) -> FileResponse:
    package, inside = VENDOR[name]
    path = project_root() / "node_modules" / package / inside
    if not path.is_file():
        detail = f"{package} is not installed: run bash scripts/bootstrap.sh"
        raise GatewayError("NotReady", detail, {"asset": name})
    # Immutable for a day: the files change only with package.json.
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400", **_SECURITY})


@router.get("/portal/qr.svg")
def portal_qr(
    manifest: ManifestDep,
    token: Annotated[str, Query(pattern=ADDRESS_PATTERN)],
    merchant: Annotated[str, Query(pattern=ADDRESS_PATTERN)],
    amount: Annotated[int | None, Query(ge=1, le=2**48 - 1)] = None,
    minutes: Annotated[int, Query(ge=1, le=1440, description="an invoice's validity")] = 15,
    label: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The merchant's static payment code, or with ``amount`` a one-time invoice that expires
    after ``minutes``: the wallet SDK's EIP-681 URI (``wallet_sdk.qr``), as SVG. Both name
    only public facts (the token, the shop's address), so anyone may ask for them."""
    invoice = None if amount is None else secrets.token_bytes(32)
    expiry = None if amount is None else int(time.time()) + minutes * 60
    try:
        request = PaymentRequest(
            token=token,
            chain_id=manifest.chain_id,
            merchant=merchant,
            amount=amount,
            invoice_id=invoice,
            expiry=expiry,
            label=label or None,
        )
    except InvalidPaymentUriError as exc:
        raise GatewayError("InvalidRequest", str(exc), {"field": "label"}) from exc
    headers = {"Cache-Control": "no-store", "X-Payment-Uri": request.to_uri(), **_QR_SECURITY}
    return Response(request.to_svg_string(scale=8), media_type="image/svg+xml", headers=headers)


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _demo_offered(request: Request, settings: Settings) -> bool:
    """Demo keys exist only on a gateway started with a demo key file and secret (``dongne up
    --demo`` on its own local node) that listens on loopback, for a caller on loopback with no
    proxy in between: never on a network anyone else reaches. A reverse proxy or forwarder on
    the same machine makes every caller look local, so its headers close the path too (a
    forwarder that adds none is what the secret is for)."""
    keys = settings.portal_demo_keys
    if keys is None or settings.portal_demo_secret is None or not Path(keys).is_file():
        return False
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    public_host = urlsplit(settings.public_url).hostname
    client = request.client.host if request.client else None
    return _loopback(public_host) and _loopback(client) and _loopback(request.url.hostname)


def _demo_allowed(request: Request, settings: Settings) -> bool:
    """The demo wallets' keys: all of :func:`_demo_offered`, and this run's secret."""
    if not _demo_offered(request, settings) or settings.portal_demo_secret is None:
        return False
    expected = settings.portal_demo_secret.get_secret_value().encode()
    given = request.headers.get(_DEMO_HEADER, "").encode()
    return bool(expected) and secrets.compare_digest(given, expected)


def _public_rpc_url(url: str) -> str:
    """``url`` without credentials (user:password@): the browser gets the endpoint only."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


@router.get("/portal/demo/wallets")
def demo_wallets(request: Request, settings: SettingsDep, manifest: ManifestDep) -> Response:
    """The demo wallets' keys, so a newcomer can sign in as every role without a wallet."""
    if not _demo_allowed(request, settings):
        raise GatewayError("RouteNotFound", "no such path")
    wallets = json.loads(Path(str(settings.portal_demo_keys)).read_text())
    rpc_url = _public_rpc_url(settings.rpc_url)
    body = {"chain_id": manifest.chain_id, "rpc_url": rpc_url, "wallets": wallets}
    headers = {"Cache-Control": "no-store", **_SECURITY}
    return Response(json.dumps(body), media_type="application/json", headers=headers)


# Last: the more specific /portal/... routes above take precedence over this pattern.
@router.get("/portal/{section}/{name}")
def portal_page(
    request: Request,
    section: Annotated[str, PathParam(max_length=20)],
    name: Annotated[str, PathParam(max_length=20)],
    lang: LangQuery = None,
) -> Response:
    found = page(section, name)
    if found is None:
        raise GatewayError("RouteNotFound", f"no portal page {section}/{name}", {"page": name})
    # Pages whose content is all built by their script share the plain layout.
    own = f"{found.section}/{found.name}.html"
    template = own if (PORTAL_DIR / "templates" / own).is_file() else "page.html"
    return _render(request, template, found, lang)
