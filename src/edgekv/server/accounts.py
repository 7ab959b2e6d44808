"""Accounts and API tokens, kept in the central store itself.

They live as JSON entries of one reserved namespace (title `edgekv-system`) of a reserved
account (`edgekv-system`, which is not 32 hex digits, so no REST path can name it). So every
server in front of the same store shares them, and no store needs tables of its own:

- `account:<id>`: `{"id", "name", "created_on"}`
- `default-account`: the id of the default account (created on first use)
- `token:<sha256 hex of the token>`: `{"id", "account_id", "name", "namespaces", "read_only",
  "created_on", "hint"}`
- `session:<sha256 hex of the session id>`: a dashboard sign-in, `{"token_hash", "csrf",
  "expires"}`, stored with that expiration (so it goes by itself) and deleted on sign-out

A token is `ekv_` + 43 url-safe characters (256 random bits). Only its SHA-256 is stored, and
the stored hash is compared in constant time. The clear token is returned once, by `create_token`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from edgekv import errors
from edgekv.api._async.kv import namespace_of
from edgekv.compact import compact_json
from edgekv.model import DEFAULT_ACCOUNT, EntryWrite, NamespaceInfo
from edgekv.stores._async.protocol import AsyncStore

if TYPE_CHECKING:
    from edgekv.server.records import Records

SYSTEM_ACCOUNT = "edgekv-system"
SYSTEM_NAMESPACE = "edgekv-system"
TOKEN_PREFIX = "ekv_"
_DEFAULT_KEY = "default-account"
SESSION_SECONDS = 12 * 3600  # a dashboard sign-in lasts a working day


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    created_on: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": "standard",
            "settings": {},
            "created_on": _iso(self.created_on),
        }


@dataclass(frozen=True, slots=True)
class Token:
    """What a token may do: one account, optionally only some namespaces, optionally read-only."""

    id: str
    account_id: str
    name: str = ""
    namespaces: list[str] | None = None
    read_only: bool = False
    created_on: float = 0.0
    hint: str = ""
    hash: str = field(default="", repr=False)

    def as_json(self) -> dict[str, Any]:
        """The token as `token list` shows it: never the token, never its hash."""
        out = asdict(self)
        del out["hash"]
        out["created_on"] = _iso(self.created_on)
        return out


@dataclass(frozen=True, slots=True)
class Session:
    """A dashboard sign-in: the token it was made with (its hash; None on a server without
    auth), the secret its forms carry against cross-site requests, and when it ends."""

    token_hash: str | None
    csrf: str
    expires: float


def _account(record: Any) -> Account:
    return Account(**record)


def _token(record: Any) -> Token:
    return Token(**record)


def _session(record: Any) -> Session:
    return Session(**record)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class Accounts:
    """The account and token registry of one store."""

    def __init__(self, store: AsyncStore, local: Records | None = None) -> None:
        self.store = store
        # With Records (the server's edge keeps them fresh), tokens and accounts are looked
        # up in memory; without one, every lookup is a strong read of the store.
        self.local = local
        self._ns: NamespaceInfo | None = None

    async def _namespace(self) -> str:
        if self._ns is None:
            self._ns = await namespace_of(self.store, SYSTEM_ACCOUNT, SYSTEM_NAMESPACE)
        return self._ns.id

    async def _read(self, key: str) -> Any:
        # A strong read: what another process changed is seen at once.
        entry = await self.store.get(await self._namespace(), key, cache_ttl=0)
        return None if entry is None else json.loads(entry.value)

    async def _lookup(self, key: str, parse: Callable[[Any], Any]) -> Any:
        """`parse(record)` of a record: from memory when Records keep it (records.py)."""
        local = self.local
        if local is None:
            record = await self._read(key)
            return None if record is None else parse(record)
        ns = self._ns.id if self._ns is not None else await self._namespace()
        found = local.record(ns, key)
        if found is not None:
            return found
        generation = local.generation
        record = await self._read(key)
        parsed = None if record is None else parse(record)
        local.keep_record(ns, key, parsed, generation)
        return parsed

    async def _write(
        self, key: str, record: Any, *, only_if_absent: bool = False, expiration: int | None = None
    ) -> None:
        data = compact_json(record).encode()
        write = EntryWrite(key, data, None, expiration, len(data))
        await self.store.put(await self._namespace(), write, only_if_absent=only_if_absent)

    async def _scan(self, prefix: str) -> list[Any]:
        ns, out, after = await self._namespace(), [], None
        while True:
            page = await self.store.list_keys(ns, prefix, 1000, after, cache_ttl=0)
            found = await self.store.get_many(ns, [k.name for k in page.keys], cache_ttl=0)
            out += [json.loads(e.value) for e in found if e is not None]
            if page.complete or not page.keys:
                return out
            after = page.keys[-1].name

    # accounts

    async def create_account(self, name: str, account_id: str | None = None) -> Account:
        if not name.strip():
            raise errors.BadRequest("An account name must not be empty.")
        account = Account(account_id or secrets.token_hex(16), name, time.time())
        try:
            await self._write(f"account:{account.id}", asdict(account), only_if_absent=True)
        except errors.PreconditionFailed:
            raise errors.BadRequest(f"An account with id {account.id} already exists.") from None
        return account

    async def get_account(self, account_id: str) -> Account | None:
        if account_id == SYSTEM_ACCOUNT:
            return None
        found: Account | None = await self._lookup(f"account:{account_id}", _account)
        return found

    async def list_accounts(self) -> list[Account]:
        accounts = [Account(**r) for r in await self._scan("account:")]
        return sorted(accounts, key=lambda a: (a.created_on, a.id))

    async def default_account(self) -> Account:
        """The default account, created on first use (the id namespaces get without one)."""
        found = await self._read(_DEFAULT_KEY)
        if found is not None:
            account = await self.get_account(found)
            if account is not None:
                return account
        with contextlib.suppress(errors.BadRequest):  # created meanwhile, or kept from before
            await self.create_account("default", DEFAULT_ACCOUNT)
        with contextlib.suppress(errors.PreconditionFailed):
            await self._write(_DEFAULT_KEY, DEFAULT_ACCOUNT, only_if_absent=True)
        account = await self.get_account(await self._read(_DEFAULT_KEY))
        assert account is not None
        return account

    async def resolve_account(self, account_id: str | None) -> Account:
        """The account an id names (the default account for None); BadRequest if unknown."""
        if account_id is None:
            return await self.default_account()
        account = await self.get_account(account_id)
        if account is None:
            raise errors.BadRequest(f"No account with id {account_id!r}.")
        return account

    # tokens

    async def create_token(
        self,
        account_id: str | None = None,
        *,
        name: str = "",
        namespaces: list[str] | None = None,
        read_only: bool = False,
    ) -> tuple[str, Token]:
        """A new token: the clear token (shown once) and its stored record."""
        account = await self.resolve_account(account_id)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = hash_token(secret)
        token = Token(
            id=secrets.token_hex(16),
            account_id=account.id,
            name=name,
            namespaces=sorted(set(namespaces)) if namespaces else None,
            read_only=read_only,
            created_on=time.time(),
            hint=secret[: len(TOKEN_PREFIX) + 4] + "…",
            hash=digest,
        )
        await self._write(f"token:{digest}", asdict(token), only_if_absent=True)
        return secret, token

    async def verify(self, secret: str) -> Token | None:
        """The token a secret is, or None (unknown, revoked, or its account deleted)."""
        digest = hash_token(secret)
        token: Token | None = await self._lookup(f"token:{digest}", _token)
        if token is None or not hmac.compare_digest(token.hash, digest):
            return None
        return token

    async def list_tokens(self, account_id: str | None = None) -> list[Token]:
        tokens = [Token(**r) for r in await self._scan("token:")]
        if account_id is not None:
            tokens = [t for t in tokens if t.account_id == account_id]
        return sorted(tokens, key=lambda t: (t.created_on, t.id))

    async def revoke_token(self, token_id: str) -> Token:
        for token in await self.list_tokens():
            if token.id == token_id:
                await self.store.delete_many(await self._namespace(), [f"token:{token.hash}"])
                return token
        raise errors.NotFound(f"No token with id {token_id!r}.")

    # dashboard sessions: the session id lives in the browser's cookie, its hash here

    async def create_session(self, token: Token | None, now: float) -> tuple[str, Session]:
        """A new sign-in for a verified token (None: a server without auth): the session id
        (shown once, to the browser) and its record."""
        sid = secrets.token_urlsafe(32)
        session = Session(
            None if token is None else token.hash,
            secrets.token_urlsafe(32),
            now + SESSION_SECONDS,
        )
        await self._write(
            f"session:{hash_token(sid)}", asdict(session), expiration=int(session.expires) + 1
        )
        return sid, session

    async def session(self, sid: str, now: float) -> tuple[Session, Token | None] | None:
        """The live session a session id opens, with its token; None when it ended, expired,
        or its token was revoked."""
        found: Session | None = await self._lookup(f"session:{hash_token(sid)}", _session)
        if found is None or found.expires <= now:
            return None
        if found.token_hash is None:
            return found, None
        token: Token | None = await self._lookup(f"token:{found.token_hash}", _token)
        return None if token is None else (found, token)

    async def end_session(self, sid: str) -> None:
        await self.store.delete_many(await self._namespace(), [f"session:{hash_token(sid)}"])
