"""The review page's search box: ``POST /api/search``, answered as the logged-in account's role may see.

A POST and not a GET, so a query (which can name a person at risk) is never part of an
address: not in the browser's history, a proxy's log or an access log. The press role gets
the press view (withheld text never shown); reviewers, admins and the single-token holder see
it, marked (views.py says who sees what). Snippets go
out as (text, matched) pieces, so the page draws them without HTML.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import search
from . import bodies, login
from .api import authorised
from .views import sees_withheld

LIMIT = 100


async def post_search(request: Request) -> Response:
    user = await authorised(request)  # before the body is read: nobody else's query is parsed
    body = await bodies.read(request, bodies.Search)
    return await run_in_threadpool(_search, request, user, body)


def _search(request: Request, user: login.User, body: bodies.Search) -> Response:
    role = "reviewer" if sees_withheld(user) else "press"
    db = search.connect(request.app.state.site.settings.database)
    try:
        results = search.search(
            db,
            body.query,
            role=role,
            case=body.case or None,
            language=body.language or None,
            limit=LIMIT,
        )
    except search.QueryError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    finally:
        db.close()
    return JSONResponse(
        {
            "role": role,
            "more": results.more,
            "cap": search.CAP,
            "hits": [{**hit.as_dict(), "parts": _parts(hit.snippet)} for hit in results.hits],
        }
    )


def _parts(snippet: str) -> list[tuple[str, bool]]:
    """'a \\x02b\\x03 c' -> [('a ', False), ('b', True), (' c', False)]"""
    parts = []
    for n, piece in enumerate(snippet.replace(search.STOP, search.START).split(search.START)):
        if piece:
            parts.append((" ".join(piece.split()) if "\n" in piece else piece, n % 2 == 1))
    return parts
