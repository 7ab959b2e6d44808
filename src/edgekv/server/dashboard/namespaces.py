"""The namespaces pages: the account's namespaces with the keys and bytes each holds, and
create, rename and delete one.

Each change goes through the same calls as the REST API (`AsyncKV`: the title validated, a
duplicate refused) and a namespace the viewer may not see is answered as one that does not
exist. Deleting asks for the namespace's title, typed: the page's script enables the button
only then, and the server checks it again.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from edgekv import errors
from edgekv.api._async.kv import AsyncKV
from edgekv.limits import plain_integer
from edgekv.server.dashboard.site import Call, Site, base
from edgekv.server.envelope import Forbidden
from edgekv.server.rest.routes import namespaces_seen

PER_PAGE = 50


class NamespacePages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        page = self.site.page
        ns = "/namespaces/{namespace_id}"
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/namespaces", page(self.list), methods=["GET"]),
            Route("/namespaces", page(self.create, change=True), methods=["POST"]),
            Route(ns + "/settings", page(self.settings), methods=["GET"]),
            Route(ns + "/rename", page(self.rename, change=True), methods=["POST"]),
            Route(ns + "/delete", page(self.delete, change=True), methods=["POST"]),
        ]

    def _kv(self, call: Call) -> AsyncKV:
        return AsyncKV(self.site.store, account_id=call.viewer.account_id, clock=self.site.clock)

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{base(request)}/namespaces", 303)

    async def list(self, call: Call, *, failed: str = "", title: str = "") -> Response:
        number = _page_number(call.query("page"))
        found = await namespaces_seen(
            self.site.store,
            call.viewer.principal,
            call.viewer.account_id,
            order="title",
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
        pages = max(1, -(-found.total_count // PER_PAGE))
        # Running totals in every store (namespace_usage never scans): one read a row.
        usage = {ns.id: await self.site.store.namespace_usage(ns.id) for ns in found.namespaces}
        return self.site.render(
            call.request,
            "namespaces.html",
            400 if failed else 200,
            viewer=call.viewer,
            namespaces=found.namespaces,
            usage=usage,
            total=found.total_count,
            page=number,
            pages=pages,
            failed=failed,
            title=title,
        )

    async def create(self, call: Call) -> Response:
        if call.viewer.scoped:
            raise Forbidden("This token is for some namespaces only: it may not create one.")
        title = call.field("title")
        try:
            ns = await self._kv(call).create_namespace(title)
        except errors.BadRequest as e:
            return await self.list(call, failed=e.message, title=title)
        return RedirectResponse(f"{base(call.request)}/namespaces/{ns.id}?notice=created", 303)

    async def settings(self, call: Call, *, failed: str = "", status: int = 200) -> Response:
        info = await self.site.namespace(call.viewer, call.request.path_params["namespace_id"])
        return self.site.render(
            call.request, "settings.html", status, viewer=call.viewer, ns=info, failed=failed
        )

    async def rename(self, call: Call) -> Response:
        info = await self.site.namespace(call.viewer, call.request.path_params["namespace_id"])
        try:
            await self._kv(call).rename_namespace(info.id, call.field("title"))
        except errors.BadRequest as e:
            return await self.settings(call, failed=e.message, status=e.status)
        return RedirectResponse(
            f"{base(call.request)}/namespaces/{info.id}/settings?notice=renamed", 303
        )

    async def delete(self, call: Call) -> Response:
        info = await self.site.namespace(call.viewer, call.request.path_params["namespace_id"])
        if call.field("confirm") != info.title:
            return await self.settings(
                call,
                failed="Type the namespace's title exactly to delete it. Nothing was deleted.",
                status=400,
            )
        await self._kv(call).delete_namespace(info.id)
        return RedirectResponse(f"{base(call.request)}/namespaces?notice=ns-deleted", 303)


def _page_number(text: str) -> int:
    return plain_integer(text, (1 << 31) - 1) or 1
