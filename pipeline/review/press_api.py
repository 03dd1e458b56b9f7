"""A press officer's work on the page: withhold names or segments, and export.

The actions are a fixed set, each checked against its own right (``withhold``, ``export``)
before the body is read; anything else is a 404. Export is the press role's and the admin's
only. Answers name files, never the server's folders.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..export import core as export_core
from ..export import protect
from ..store import Store
from . import bodies, login
from .api import authorised, payload
from .public import OUTBOX_WORDS


def _withhold(
    request: Request, user: login.User, store: Store, interview_id: str, body: bodies.Withhold
) -> dict:
    site = request.app.state.site
    export_core.withhold(site.settings, store, interview_id, body.terms, body.segments)
    parts = [f"{len(body.terms)} name(s)"] if body.terms else []
    parts += (
        [f"segment(s) {', '.join(map(str, sorted(set(body.segments))))}"] if body.segments else []
    )
    return {
        "messages": [
            f"{interview_id}: {' and '.join(parts) or 'nothing'} withheld from every export"
        ]
    }


def _export(
    request: Request, user: login.User, store: Store, interview_id: str, body: bodies.Export
) -> dict:
    site = request.app.state.site
    formats = export_core.parse_formats(body.formats)
    items = export_core.find(site.settings, store, interview_id)
    # A protected interview leaves with its sidecar's protections unless an admin waives them.
    if body.without_protection and user.role != "admin":
        raise HTTPException(
            403, "only an admin may export a protected interview without its protections"
        )
    asked = (
        body.protect
        if body.protect is not None
        else ([] if body.without_protection else protect.required(items[0].job))
    )
    wanted = protect.parse(",".join(asked))
    export_core.check(items, body.allow_unreviewed, formats, wanted, body.without_protection)
    waived_by = (user.name or "token holder") if body.without_protection else None
    result = export_core.export(
        site.settings, store, items[0], formats, protections=wanted, override_by=waived_by
    )
    return {
        "folder": f"the export folder in {OUTBOX_WORDS}",
        "files": sorted(result.files),
        "notices": result.notices,
    }


# action -> (the right it needs, the body it takes, what it does)
ACTIONS = {
    "withhold": ("withhold", bodies.Withhold, _withhold),
    "export": ("export", bodies.Export, _export),
}


def _run(request: Request, user: login.User, action: str, body: bodies.Body) -> Response:
    site = request.app.state.site
    store = Store(site.settings.database)
    try:
        with site.reviews() as reviews:
            found = reviews.find(request.path_params["interview_id"])
        reply = ACTIONS[action][2](request, user, store, found.interview_id, body)
        # Who did it, by account: the custody log's own entry names files and hashes only.
        store.event(
            "review page",
            sha256=found.sha256,
            interview_id=found.interview_id,
            action=action,
            account=user.name or "token holder",
        )
    finally:
        store.close()
    with site.reviews() as reviews:
        reply["interview"] = payload(reviews, found.interview_id, user)
    return JSONResponse(reply)


def press_route(action: str):
    right, model, _ = ACTIONS[action]

    async def handler(request: Request) -> Response:
        user = await authorised(request, right)
        body = await bodies.read(request, model)
        return await run_in_threadpool(_run, request, user, action, body)

    handler.__name__ = f"post_{action}"
    return handler


post_withhold = press_route("withhold")
post_export = press_route("export")
