"""``GET /api/interviews/<id>/suggestions``: which model made the interview's transcript, its
version, and the new machine text offered beside reviewed segments after a retranscription.

Suggestions go only to accounts that may edit (a press account never sees withheld text).
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import versions
from . import login, suggestions


def get_suggestions(request: Request) -> Response:
    user = login.require(request)
    with request.app.state.site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
    out = found.out_dir
    offered = suggestions.load(out) if user.may("edit") else {}
    return JSONResponse(
        {
            "transcribed_with": versions.made_by(out).label,
            "version": versions.current_number(out),
            "earlier": [
                {"version": v.number, "model": v.made.label, "kept_at": v.kept_at}
                for v in versions.listing(out)
            ],
            "suggestions": {str(k): asdict(v) for k, v in offered.items()},
        }
    )
