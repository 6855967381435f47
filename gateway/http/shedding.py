"""Load shedding at the door: a saturated relayer's ``Overloaded`` answer before routing.

Refusing must cost far less than accepting, or the refusals themselves eat the capacity they
protect (at twice the capacity offered, there is one refusal per acceptance). Routing, the
access dependency and reading the body cost more than the check, so ``POST /v1/requests`` is
checked here first, in a pure ASGI middleware, with the relayer's admission control
(``gateway.relayer.admission``); the intake checks again when it takes its slot.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.problems import problem_response
from gateway.relayer.service import Relayer

__all__ = ["Shed"]

_SUBMIT = b"/v1/requests"


class Shed:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope.get("raw_path") or scope["path"].encode()
            relayer: Relayer | None = getattr(scope["app"].state, "relayer", None)
            if path == _SUBMIT and relayer is not None:
                refusal = relayer.intake.admission.refusal()
                if refusal is not None:
                    await problem_response(refusal)(scope, receive, send)
                    return
        await self.app(scope, receive, send)
