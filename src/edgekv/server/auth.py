"""Authentication: a middleware that turns credentials into a `Principal` or a 401/403 envelope.

Credentials are `Authorization: Bearer <token>` or `X-Auth-Email` + `X-Auth-Key` (the key is an
edgekv token; the email is required, as Cloudflare requires it, and not checked). Under
`/client/v4/accounts/{account_id}/...` the middleware also enforces the token's scope, so routes
never repeat it: the account in the path must be the token's, a namespace-scoped token reaches
only its namespaces, and a read-only token only reads (a bulk get is a read).

Paths outside `/client/v4` (`/healthz`, `/openapi.json`) are open. Tokens are never logged.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgekv import errors
from edgekv.model import NamespaceInfo
from edgekv.server.accounts import SYSTEM_ACCOUNT, Accounts, Token
from edgekv.server.asgi import ASGIApp, Receive, Scope, Send
from edgekv.server.envelope import AuthenticationError, Forbidden, UnknownAccount, failure
from edgekv.server.paths import API_PREFIX, V4Path, percent_decode, raw_path, v4_path

PRINCIPAL = "edgekv.principal"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_ALLOWED_KEPT = 10_000
CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-auth-key", b"x-auth-email"})


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
        if name in CREDENTIAL_HEADERS:
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
        self.records = accounts.local
        # Namespaces found allowed, by (method, account, namespace, credential headers): valid
        # while no record they depend on changed (Records.generation) and for at most the
        # records' ttl (see `namespace`). Only what was allowed is kept, at most _ALLOWED_KEPT.
        self._allowed: dict[tuple[object, ...], tuple[int, float, NamespaceInfo]] = {}

    async def authorize(self, scope: Scope) -> Principal:
        """Who calls, if they may call this path; else raises the KVError to answer."""
        principal = await self._principal(scope)
        await self._check_scope(scope, principal)
        return principal

    async def namespace(
        self, scope: Scope, path: V4Path, credentials: list[tuple[bytes, bytes]]
    ) -> NamespaceInfo:
        """The namespace a `.../namespaces/{ns}/...` path names, if the caller may use it
        this way; else raises the KVError to answer. `credentials` are the request's
        credential headers, which key what is remembered."""
        records = self.records
        if records is None:
            await self.authorize(scope)
            return await self.namespace_info(path.account.decode(), path.namespace.decode())
        remembered = (scope["method"], path.account, path.namespace, *credentials)
        found = self._allowed.get(remembered)
        generation = records.generation
        if (
            found is not None
            and found[0] == generation
            and records.clock() - found[1] < records.ttl
        ):
            return found[2]
        await self.authorize(scope)
        info = await self.namespace_info(path.account.decode(), path.namespace.decode())
        if generation == records.generation:  # nothing changed while we looked
            if len(self._allowed) >= _ALLOWED_KEPT:
                self._allowed.clear()
            self._allowed[remembered] = (generation, records.clock(), info)
        return info

    async def namespace_info(self, account_id: str, namespace_id: str) -> NamespaceInfo:
        """The namespace of a key or value path: from memory when Records keep it.

        Only its id and account matter here, and neither ever changes; a deletion reaches the
        records through the edge (renames too, but a title shown is read from the store).
        """
        records = self.records
        info = None if records is None else records.namespace(namespace_id)
        if info is None:
            generation = 0 if records is None else records.generation
            info = await self.accounts.store.get_namespace(namespace_id)
            if records is not None:
                records.keep_namespace(info, generation)
        if info.account_id != account_id:
            raise errors.NamespaceNotFound()
        return info

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
        path = v4_path(raw_path(scope))
        if path is None or not path.account:
            return
        try:
            account_id = percent_decode(path.account)
            namespace = percent_decode(path.namespace)
        except errors.KVError:
            raise Forbidden() from None  # no account or namespace of ours is spelt so
        if not principal.sees_account(account_id):
            raise Forbidden()
        if principal.token is None and await self.accounts.get_account(account_id) is None:
            raise UnknownAccount()
        token = principal.token
        if token is None:
            return
        method = scope["method"]
        if token.namespaces:
            # A namespace-scoped token lists its namespaces but creates none.
            listing = not namespace and method in _READS
            if not listing and namespace not in token.namespaces:
                raise Forbidden()
        bulk_get = method == "POST" and path.what == b"bulk" and path.rest == b"get"
        if token.read_only and method not in _READS and not bulk_get:
            raise Forbidden()


class AuthMiddleware:
    """Requires a valid token under /client/v4 (unless `enabled` is False) and checks its scope."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        path = v4_path(raw_path(scope))
        if path is not None and path.what == b"values" and path.rest is not None:
            await self.app(scope, receive, send)  # the value routes authorize for themselves
            return
        try:
            principal = await self.authenticator.authorize(scope)
        except errors.KVError as e:
            await failure(e)(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)
