"""The endpoints SDKs and wrangler use to find their account and check their token.

`GET /client/v4/accounts`, `GET /client/v4/memberships` (what wrangler asks when
CLOUDFLARE_ACCOUNT_ID is not set) and `GET /client/v4/user/tokens/verify` (also under
`/accounts/{id}/tokens/verify`) answer in Cloudflare's shapes.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from edgekv.server.accounts import Account, Accounts
from edgekv.server.auth import principal_of
from edgekv.server.envelope import ok


class IdentityAPI:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def routes(self) -> list[Route]:
        return [
            Route("/client/v4/accounts", self.list_accounts, methods=["GET"]),
            Route("/client/v4/accounts/{account_id}", self.get_account, methods=["GET"]),
            Route("/client/v4/memberships", self.memberships, methods=["GET"]),
            Route("/client/v4/user/tokens/verify", self.verify, methods=["GET"]),
            Route("/client/v4/accounts/{account_id}/tokens/verify", self.verify, methods=["GET"]),
        ]

    async def _visible(self, request: Request) -> list[Account]:
        principal = principal_of(request.scope)
        if principal.account_id is not None:
            found = await self.accounts.get_account(principal.account_id)
            return [] if found is None else [found]
        return await self.accounts.list_accounts()

    async def _page(self, request: Request) -> tuple[list[Account], dict[str, int]]:
        accounts = await self._visible(request)
        try:
            page = max(1, int(request.query_params.get("page") or 1))
            per_page = min(1000, max(1, int(request.query_params.get("per_page") or 20)))
        except ValueError:
            page, per_page = 1, 20
        shown = accounts[(page - 1) * per_page : page * per_page]
        info = {
            "count": len(shown),
            "page": page,
            "per_page": per_page,
            "total_count": len(accounts),
            "total_pages": -(-len(accounts) // per_page),
        }
        return shown, info

    async def list_accounts(self, request: Request) -> Response:
        shown, info = await self._page(request)
        return ok([a.as_json() for a in shown], result_info=info)

    async def get_account(self, request: Request) -> Response:
        # The middleware has checked that the caller sees this account, and that it exists.
        account = await self.accounts.get_account(request.path_params["account_id"])
        assert account is not None
        return ok(account.as_json())

    async def memberships(self, request: Request) -> Response:
        shown, info = await self._page(request)
        token = principal_of(request.scope).token
        roles = ["Read only"] if token is not None and token.read_only else ["Administrator"]
        result = [
            {
                "id": a.id,
                "status": "accepted",
                "account": {"id": a.id, "name": a.name},
                "roles": roles,
                "permissions": {},
            }
            for a in shown
        ]
        return ok(result, result_info=info)

    async def verify(self, request: Request) -> Response:
        token = principal_of(request.scope).token
        if token is None:
            return ok(
                {"id": "", "status": "active"},
                messages=[{"code": 10000, "message": "edgekv runs without authentication"}],
            )
        return ok(
            {"id": token.id, "status": "active"},
            messages=[
                {"code": 10000, "message": "This API Token is valid and active", "type": None}
            ],
        )
