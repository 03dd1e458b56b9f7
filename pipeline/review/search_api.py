"""The review page's search box: ``POST /api/search``, answered as the logged-in account's role may see.

A POST and not a GET, so a query (which can name a person at risk) is never part of an
address: not in the browser's history, a proxy's log or an access log. The press role gets
the press view (withheld text never shown); reviewers and admins see it, marked. Snippets go
out as (text, matched) pieces, so the page draws them without HTML.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import search
from . import login

MAX_QUERY = 500
LIMIT = 100


async def post_search(request: Request) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "posts must be JSON (Content-Type: application/json)")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise HTTPException(400, 'send {"query": "words to find"}')
    if len(body["query"]) > MAX_QUERY:
        raise HTTPException(413, f"a search is at most {MAX_QUERY} characters")
    return await run_in_threadpool(_search, request, body)


def _search(request: Request, body: dict) -> Response:
    user = login.require(request)
    role = "press" if user.role == "press" else "reviewer"
    db = search.connect(request.app.state.site.settings.database)
    try:
        results = search.search(db, body["query"], role=role, case=body.get("case") or None,
                                language=body.get("language") or None, limit=LIMIT)
    except search.QueryError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    finally:
        db.close()
    return JSONResponse({"role": role, "more": results.more, "cap": search.CAP,
                         "hits": [{**hit.as_dict(), "parts": _parts(hit.snippet)} for hit in results.hits]})


def _parts(snippet: str) -> list[tuple[str, bool]]:
    """'a \\x02b\\x03 c' -> [('a ', False), ('b', True), (' c', False)]"""
    parts = []
    for n, piece in enumerate(snippet.replace(search.STOP, search.START).split(search.START)):
        if piece:
            parts.append((" ".join(piece.split()) if "\n" in piece else piece, n % 2 == 1))
    return parts
