"""Swagger UI at ``/docs`` and ReDoc at ``/redoc``, from local assets.

Permissioned deployments run on closed networks, so nothing here may come from a CDN: the
scripts and styles are the npm packages pinned in ``package.json`` (``swagger-ui-dist``,
``redoc``), served from ``node_modules`` under ``/docs/assets/``. Without them (an install
with no ``bash scripts/bootstrap.sh``) the pages answer 503 ``NotReady`` saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from chain.toolchain import project_root
from gateway.errors import GatewayError

__all__ = ["ASSETS", "install_docs"]

# The files the pages load, by the name they are served under.
ASSETS: dict[str, tuple[str, str]] = {
    "swagger-ui-bundle.js": ("swagger-ui-dist", "swagger-ui-bundle.js"),
    "swagger-ui.css": ("swagger-ui-dist", "swagger-ui.css"),
    "favicon.png": ("swagger-ui-dist", "favicon-32x32.png"),
    "redoc.standalone.js": ("redoc", "bundles/redoc.standalone.js"),
}
AssetName = Literal["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png", "redoc.standalone.js"]
_BASE = "/docs/assets/"


def _asset(name: str) -> Path:
    package, inside = ASSETS[name]
    path = project_root() / "node_modules" / package / inside
    if not path.is_file():
        raise GatewayError(
            "NotReady",
            f"the API docs' assets are not installed ({package}: run bash scripts/bootstrap.sh)",
            {"asset": name},
        )
    return path


def install_docs(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Adds the two pages and their assets to `app` (created with docs_url=None, redoc_url=None)."""
    title = f"{app.title} - API"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        _asset("swagger-ui-bundle.js")
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=_BASE + "swagger-ui-bundle.js",
            swagger_css_url=_BASE + "swagger-ui.css",
            swagger_favicon_url=_BASE + "favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        _asset("redoc.standalone.js")
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=_BASE + "redoc.standalone.js",
            redoc_favicon_url=_BASE + "favicon.png",
            with_google_fonts=False,
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    def asset(name: Annotated[AssetName, PathParam()]) -> FileResponse:
        # Immutable for a day: the files change only with package.json.
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(_asset(name), headers=headers)
