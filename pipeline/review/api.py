"""The review page's JSON API for interviews: read them, edit them, their history and media.

Every handler checks the login (and the right it needs) before it reads the request's body,
then reads the body as a typed model (bodies.py). What the answer shows follows the role
(views.py): the press role never receives withheld text.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    Response,
)

from ..config import LANGUAGES
from ..outbox import REVIEW_FILE
from . import bodies, login
from .changes import Conflict, NeedsConfirmation, ReviewError
from .edits import Reviews
from .public import OUTBOX_WORDS
from .reviewfile import close_speakers
from .textfile import write_review_file
from .views import PressView, press_may_edit, press_may_rename, sees_withheld

log = logging.getLogger(__name__)

TRANSLATING = threading.Lock()

MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".3gp": "video/3gpp",
    ".avi": "video/x-msvideo",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
}


async def authorised(request: Request, right: str | None = None) -> login.User:
    """The logged-in user with ``right``, checked before anything reads the request's body."""
    return await run_in_threadpool(login.require, request, right)


def payload(reviews: Reviews, interview_id: str, user: login.User) -> dict:
    """One interview as the page draws it, as ``user``'s role may see it."""
    interview = reviews.find(interview_id)
    t = reviews.open(interview)
    write_review_file(reviews, interview)
    revisions = reviews.revisions(interview.interview_id)
    segments = [{**asdict(seg), **revisions[seg.id]} for seg in t.segments]
    data = {
        "interview_id": t.interview_id,
        "case_id": t.case_id,
        "language": t.language,
        "review": t.review,
        "translation": t.translation.get("status"),
        "languages": list(LANGUAGES),
        "media": {
            "url": f"/media/{interview.interview_id}",
            "kind": interview.media_kind,
            "name": t.source.get("file"),
        },
        "review_file": f"{REVIEW_FILE} in {OUTBOX_WORDS}",
        "warnings": t.warnings,
        "segments": segments,
        "close_speakers": close_speakers(t),
    }
    if not sees_withheld(user):
        view = PressView.of(t)
        data.update(
            review=view.review(t.review),
            segments=[view.segment(s) for s in segments],
            warnings=view.text(t.warnings),
            close_speakers=view.text(data["close_speakers"]),
            review_file=None,
        )
        data["media"]["name"] = f"{interview.interview_id}{interview.evidence_path.suffix.lower()}"
    return data


async def me(request: Request) -> Response:
    user = await authorised(request)
    return JSONResponse(
        {
            "name": user.name,
            "role": user.role,
            "token_mode": user.token_mode,
            "may": sorted(r for r in ("edit", "withhold", "export", "accounts") if user.may(r)),
            "sees_withheld": sees_withheld(user),
            "language": await run_in_threadpool(login.language, request, user),
        }
    )


def _interviews(request: Request, user: login.User) -> Response:
    q = request.query_params
    try:
        flagged = int(q.get("flagged") or 0)
    except ValueError:
        raise HTTPException(
            400, "flagged must be a whole number (the least number of flagged segments)"
        ) from None
    with request.app.state.site.reviews() as reviews:
        rows = []
        for found in reviews.interviews():
            row = reviews.progress(found)
            if not sees_withheld(user):
                view = PressView.of(reviews.open(found))
                row["reviewers"] = view.text(row["reviewers"])
            rows.append(row)
    rows = [
        r
        for r in rows
        if (not q.get("case") or r["case_id"] == q["case"])
        and (not q.get("status") or r["status"] == q["status"])
        and r["flagged"] >= flagged
    ]
    return JSONResponse(rows)


async def interviews(request: Request) -> Response:
    """Every interview with its progress; ?case=, ?status= and ?flagged= (at least) filter it."""
    user = await authorised(request)
    return await run_in_threadpool(_interviews, request, user)


def _interview(request: Request, user: login.User) -> Response:
    with request.app.state.site.reviews() as reviews:
        return JSONResponse(payload(reviews, request.path_params["interview_id"], user))


async def interview(request: Request) -> Response:
    user = await authorised(request)
    return await run_in_threadpool(_interview, request, user)


def _audit(request: Request, user: login.User) -> Response:
    with request.app.state.site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
        entries = reviews.audit(found.interview_id, request.path_params["segment_id"])
        if not sees_withheld(user):
            entries = PressView.of(reviews.open(found)).audit(entries)
        return JSONResponse(entries)


async def audit(request: Request) -> Response:
    user = await authorised(request)
    return await run_in_threadpool(_audit, request, user)


def _media(request: Request, user: login.User) -> Response:
    site = request.app.state.site
    with site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
        if not sees_withheld(user) and PressView.of(reviews.open(found)).anything:
            raise HTTPException(
                403,
                "this recording has withheld passages or names, which the press role "
                "does not hear; the exported video (format mp4) mutes withheld segments",
            )
    path = found.evidence_path.resolve()
    if not path.is_relative_to(site.evidence) or not path.is_file():
        log.warning(
            "review page: media for %s is not in the evidence store; refused", found.interview_id
        )
        raise HTTPException(403, "the recording is not in this home folder's evidence store")
    _check_range(request.headers.get("range"), path.stat().st_size)
    return FileResponse(
        path, media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
    )


def _check_range(asked: str | None, size: int) -> None:
    """A JSON 400 or 416 for a Range header FileResponse would refuse (it answers those in plain
    text); the same parser decides, so what passes here is what it serves."""
    if asked is None:
        return
    try:
        FileResponse._parse_range_header(asked, size)
    except MalformedRangeHeader:
        raise HTTPException(
            400,
            "the Range header is not understood: ask for bytes=START-END or bytes=START- "
            "(byte offsets, START at most END), or leave it out for the whole recording",
        ) from None
    except RangeNotSatisfiable:
        raise HTTPException(
            416,
            f"the range asked for starts past the end of the recording ({size} bytes); "
            "ask for bytes from 0 to one less than that",
            headers={"Content-Range": f"bytes */{size}"},
        ) from None


async def media(request: Request) -> Response:
    """The original recording, from the evidence store only; Starlette answers Range requests."""
    user = await authorised(request)
    return await run_in_threadpool(_media, request, user)


# Edits -------------------------------------------------------------------------------------


def author(user: login.User, body: bodies.Authored) -> str:
    """The name for the audit log: the account's, or in single-token mode the one typed."""
    return user.name if not user.token_mode else (body.reviewer or "")


def edit_route(model: type[bodies.Authored], action):
    """A POST handler: login and right first, then the body as ``model``, then ``action``."""

    async def handler(request: Request) -> Response:
        user = await authorised(request, "edit")
        body = await bodies.read(request, model)
        return await run_in_threadpool(_edit, request, user, body, action)

    handler.__name__ = action.__name__
    handler.__doc__ = action.__doc__
    return handler


def _edit(request: Request, user: login.User, body: bodies.Authored, action) -> Response:
    with request.app.state.site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
        segment_id = request.path_params.get("segment_id")
        view = None
        if not sees_withheld(user):
            t = reviews.open(found)
            view = PressView.of(t)
            _refuse_hidden(view, t, segment_id, action)
        try:
            action(reviews, found, author(user, body), segment_id, body)
        except ReviewError as exc:
            if view is not None:
                _mask_error(view, exc)
            raise
        return JSONResponse(payload(reviews, found.interview_id, user))


def _mask_error(view: PressView, exc: ReviewError) -> None:
    """The press role's copy of a refusal: its fields and its sentence (which may name a
    withheld reviewer or quote withheld text) with withheld terms masked."""
    if isinstance(exc, Conflict):
        exc.current = view.segment(exc.current) if exc.current else None
        exc.by = view.text(exc.by)
    if isinstance(exc, NeedsConfirmation):
        exc.proposed = view.text(exc.proposed)
    exc.args = tuple(view.text(a) for a in exc.args)


def _refuse_hidden(view: PressView, t, segment_id: int | None, action) -> None:
    """A 403 when the press role would change text it is not shown (a merge takes the next one too)."""
    touched = [segment_id] if segment_id is not None else []
    ids = [s.id for s in t.segments]
    if action is merge and segment_id in ids:
        touched += ids[ids.index(segment_id) + 1 :][:1]
    why = (
        press_may_rename(view, t)
        if action in (rename_speaker, merge_speakers)
        else press_may_edit(view, t, touched)
    )
    if why:
        raise HTTPException(403, why)


def save(reviews: Reviews, found, who: str, segment_id: int, body: bodies.Save) -> None:
    reviews.save(found, who, segment_id, body.revision, body.changes.model_dump(exclude_unset=True))


def split(reviews: Reviews, found, who: str, segment_id: int, body: bodies.Split) -> None:
    reviews.split(found, who, segment_id, body.revision, body.at, body.offset)


def merge(reviews: Reviews, found, who: str, segment_id: int, body: bodies.Merge) -> None:
    reviews.merge(found, who, segment_id, body.revision, body.next_revision)


def translate(reviews: Reviews, found, who: str, segment_id: int, body: bodies.Translate) -> None:
    with TRANSLATING:  # one translation model load/run at a time
        reviews.retranslate(found, who, segment_id, body.revision, body.replace)


def set_status(reviews: Reviews, found, who: str, segment_id: None, body: bodies.Status) -> None:
    reviews.set_status(found, who, body.status)


def rename_speaker(
    reviews: Reviews, found, who: str, segment_id: None, body: bodies.RenameSpeaker
) -> None:
    """A name for a speaker in every segment: one audited edit."""
    reviews.rename_speaker(found, who, body.old, body.new)


def merge_speakers(
    reviews: Reviews, found, who: str, segment_id: None, body: bodies.MergeSpeakers
) -> None:
    """One speaker label into another where the voice step split one voice in two: one
    audited edit."""
    reviews.merge_speakers(found, who, body.merge, body.into)


post_save = edit_route(bodies.Save, save)
post_split = edit_route(bodies.Split, split)
post_merge = edit_route(bodies.Merge, merge)
post_translate = edit_route(bodies.Translate, translate)
post_status = edit_route(bodies.Status, set_status)
post_speakers = edit_route(bodies.RenameSpeaker, rename_speaker)
post_merge_speakers = edit_route(bodies.MergeSpeakers, merge_speakers)
