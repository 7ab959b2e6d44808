"""Signing in with an API token, and out.

The token is checked as the API checks it (`Accounts.verify`), then forgotten: the browser
gets a random session id in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS), and the
central store keeps the session (its id hashed, the token's hash, a CSRF secret, an expiry),
so every server in front of that store knows it, revoking the token ends it, and signing out
deletes it. The sign-in form itself is guarded by a one-time value in a cookie of its own, so
another site cannot sign a browser in with a token of its choosing.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edgekv import errors
from edgekv.server.accounts import SESSION_SECONDS
from edgekv.server.dashboard.site import (
    SESSION_COOKIE,
    Call,
    Site,
    base,
    read_form,
)
from edgekv.server.envelope import AuthenticationError, Forbidden

SIGNIN_COOKIE = "edgekv_signin"


class SignIn:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/signin", self.form, methods=["GET"]),
            Route("/signin", self.sign_in, methods=["POST"]),
            Route("/signout", self.site.page(self.sign_out), methods=["POST"]),
        ]

    async def form(self, request: Request, *, failed: str = "", status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(24)
        answer = self.site.render(
            request,
            "signin.html",
            status,
            auth=self.site.auth,
            nonce=nonce,
            next=_next(request, request.query_params.get("next", "")),
            failed=failed,
        )
        answer.set_cookie(
            SIGNIN_COOKIE,
            nonce,
            max_age=3600,
            path=base(request) + "/signin",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return answer

    async def sign_in(self, request: Request) -> Response:
        try:
            form = await read_form(request)
        except errors.KVError as e:
            return self.site.error(request, None, e)
        sent, kept = form.get("nonce"), request.cookies.get(SIGNIN_COOKIE)
        if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent, kept):
            return await self.form(
                request,
                failed=Forbidden("The sign-in form expired: try again.").message,
                status=403,
            )
        token = None
        if self.site.auth:
            secret = form.get("token")
            token = (
                await self.site.accounts.verify(secret.strip()) if isinstance(secret, str) else None
            )
            if token is None:
                failed = AuthenticationError(
                    "That token is not valid: unknown, revoked, or mistyped."
                ).message
                return await self.form(request, failed=failed, status=401)
        sid, _ = await self.site.accounts.create_session(token, self.site.clock())
        target = form.get("next")
        answer = RedirectResponse(_next(request, target if isinstance(target, str) else ""), 303)
        answer.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=SESSION_SECONDS,
            path=base(request) or "/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        answer.delete_cookie(SIGNIN_COOKIE, path=base(request) + "/signin")
        return answer

    async def sign_out(self, call: Call) -> Response:
        await self.site.accounts.end_session(call.viewer.sid)
        request = call.request
        answer = RedirectResponse(f"{base(request)}/signin?notice=signed-out", 303)
        answer.delete_cookie(SESSION_COOKIE, path=base(request) or "/")
        return answer


def _next(request: Request, target: str) -> str:
    """Where to go after signing in: a page of the dashboard, never another site."""
    home = base(request) + "/"
    if target.startswith(home) and not target.startswith("//") and "\\" not in target:
        return target
    return home
