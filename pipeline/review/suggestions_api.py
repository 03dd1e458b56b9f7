"""``GET /api/interviews/<id>/suggestions``: which model made the interview's transcript, its
version, and the new machine text offered beside reviewed segments after a retranscription.

Suggestions go only to accounts that may edit. The press role gets them as it sees everything
else (views.py): none for a withheld segment, withheld names masked in the rest.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import versions
from . import login, suggestions
from .views import PressView, sees_withheld


def _suggestions(request: Request, user: login.User) -> Response:
    with request.app.state.site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
        out = found.out_dir
        offered = (
            {k: asdict(v) for k, v in suggestions.load(out).items()} if user.may("edit") else {}
        )
        if offered and not sees_withheld(user):
            view = PressView.of(reviews.open(found))
            offered = {k: view.text(v) for k, v in offered.items() if k not in view.withheld}
    return JSONResponse(
        {
            "transcribed_with": versions.made_by(out).label,
            "version": versions.current_number(out),
            "earlier": [
                {"version": v.number, "model": v.made.label, "kept_at": v.kept_at}
                for v in versions.listing(out)
            ],
            "suggestions": {str(k): v for k, v in offered.items()},
        }
    )


async def get_suggestions(request: Request) -> Response:
    user = await run_in_threadpool(login.require, request)
    return await run_in_threadpool(_suggestions, request, user)
