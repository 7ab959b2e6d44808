"""Authentication: a middleware that turns credentials into a `Principal` or a 401/403 envelope.

Credentials are `Authorization: Bearer <token>` or `X-Auth-Email` + `X-Auth-Key` (the key is an
edgekv token; the email is required, as Cloudflare requires it, and not checked). Under
`/client/v4/accounts/{account_id}/...` the middleware also enforces the token's scope, so routes
never repeat it: the account in the path must be the token's, a namespace-scoped token reaches
only its namespaces, and a read-only token only reads (a bulk get is a read).

Paths outside `/client/v4` (`/healthz`, `/openapi.json`) are open. Tokens are never logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from edgekv import errors
from edgekv.model import NamespaceInfo
from edgekv.server.accounts import SYSTEM_ACCOUNT, Accounts, Token
from edgekv.server.envelope import AuthenticationError, Forbidden, UnknownAccount, failure

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PRINCIPAL = "edgekv.principal"
API_PREFIX = "/client/v4"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token, or nobody in particular when the server runs with --no-auth."""

    token: Token | None

    @property
    def account_id(self) -> str | None:
        return None if self.token is None else self.token.account_id

    def sees_account(self, account_id: str) -> bool:
        return account_id != SYSTEM_ACCOUNT and (
            self.token is None or self.token.account_id == account_id
        )

    def sees_namespace(self, namespace: NamespaceInfo) -> bool:
        if not self.sees_account(namespace.account_id):
            return False
        return (
            self.token is None or not self.token.namespaces or namespace.id in self.token.namespaces
        )


def principal_of(scope: Scope) -> Principal:
    found = scope.get(PRINCIPAL)
    return found if isinstance(found, Principal) else Principal(None)


def credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token a request carries (Bearer, or X-Auth-Key with X-Auth-Email), or None."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in (b"authorization", b"x-auth-key", b"x-auth-email"):
            found[name] = value
    scheme, _, token = found.get(b"authorization", b"").decode("latin-1").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    key = found.get(b"x-auth-key", b"").decode("latin-1").strip()
    if key and found.get(b"x-auth-email", b"").strip():
        return key
    return None


class Authenticator:
    """Turns a request's credentials into a Principal allowed on its path, or a KVError."""

    def __init__(self, accounts: Accounts, *, enabled: bool = True) -> None:
        self.accounts = accounts
        self.enabled = enabled

    async def authorize(self, scope: Scope) -> Principal:
        """Who calls, if they may call this path; else raises the KVError to answer."""
        principal = await self._principal(scope)
        await self._check_scope(scope, principal)
        return principal

    async def _principal(self, scope: Scope) -> Principal:
        secret = credential(scope["headers"])
        if not self.enabled:
            return Principal(None)
        if secret is None:
            raise AuthenticationError()
        token = await self.accounts.verify(secret)
        if token is None:
            raise AuthenticationError()
        return Principal(token)

    async def _check_scope(self, scope: Scope, principal: Principal) -> None:
        # The account and namespace come from the decoded path, as the router sees them.
        # /client/v4/accounts/{account}/storage/kv/namespaces/{namespace}/...
        parts = str(scope["path"]).split("/")
        if len(parts) < 5 or parts[3] != "accounts" or not parts[4]:
            return
        account_id = parts[4]
        if not principal.sees_account(account_id):
            raise Forbidden()
        if principal.token is None and await self.accounts.get_account(account_id) is None:
            raise UnknownAccount()
        token = principal.token
        if token is None:
            return
        namespace = (
            parts[8] if len(parts) > 8 and parts[5:8] == ["storage", "kv", "namespaces"] else ""
        )
        if token.namespaces:
            # A namespace-scoped token lists its namespaces but creates none.
            listing = not namespace and scope["method"] in _READS
            if not listing and namespace not in token.namespaces:
                raise Forbidden()
        bulk_get = scope["method"] == "POST" and parts[9:] == ["bulk", "get"]
        if token.read_only and scope["method"] not in _READS and not bulk_get:
            raise Forbidden()


class AuthMiddleware:
    """Requires a valid token under /client/v4 (unless `enabled` is False) and checks its scope."""

    def __init__(self, app: ASGIApp, accounts: Accounts, *, enabled: bool = True) -> None:
        self.app = app
        self.authenticator = Authenticator(accounts, enabled=enabled)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.authenticator.authorize(scope)
        except errors.KVError as e:
            await failure(e)(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)
