"""The portal: web pages for city officers, auditors, merchants and residents.

The pages are shells rendered from ``templates/`` (Jinja2) in the reader's language; their
scripts (``static/``) sign in with the user's wallet (SIWE, as wallet apps do) and read the
same typed, authorised JSON API as everyone else, with the session's Bearer token. A page
therefore holds no data of its own: what a visitor may see is decided by the API's policies
(``gateway.http.access``), never by the page. ``gateway.http.portal`` serves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.portal.messages import LANGUAGES, MESSAGES, Language, message

__all__ = [
    "LANGUAGES",
    "MESSAGES",
    "PAGES",
    "PORTAL_DIR",
    "Audience",
    "Language",
    "Page",
    "message",
    "page",
]

PORTAL_DIR = Path(__file__).resolve().parent

Audience = Literal["anyone", "officer", "auditor", "merchant", "resident"]


@dataclass(frozen=True, slots=True)
class Page:
    section: str  # the URL: /portal/<section>/<name>
    name: str
    audience: Audience  # whose menu lists it; the API decides what it may show
    in_menu: bool = True

    @property
    def path(self) -> str:
        return f"/portal/{self.section}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"  # its template, script and title message


PAGES: tuple[Page, ...] = (
    Page("officer", "dashboard", "officer"),
    Page("officer", "programs", "officer"),
    Page("officer", "program", "officer", in_menu=False),
    Page("officer", "create", "officer"),
    Page("officer", "merchants", "officer"),
    Page("officer", "rules", "officer"),
    Page("officer", "fraud", "officer"),
    Page("officer", "settlements", "officer"),
    Page("auditor", "reconcile", "auditor"),
    Page("auditor", "ledger", "auditor"),
    Page("auditor", "verify", "auditor"),
    Page("auditor", "code", "auditor"),
    Page("auditor", "staff-log", "auditor"),
    Page("auditor", "access-log", "auditor"),
    Page("merchant", "sales", "merchant"),
    Page("merchant", "poster", "merchant"),
    Page("merchant", "invoice", "merchant"),
    Page("resident", "wallet", "resident"),
    Page("resident", "shops", "anyone"),  # the public directory: no sign-in needed
)


def page(section: str, name: str) -> Page | None:
    return next((p for p in PAGES if p.section == section and p.name == name), None)
