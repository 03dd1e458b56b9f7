"""The review page as a Starlette app: routes, the JSON API, media by interview ID, pages in four languages.

HTTP itself (parsing, sessions, CSRF, static files, range requests) is Starlette's, uvicorn's
and asgi-csrf's; this module only says who may do what and hands the work to the review
logic in edits.py. Recordings and transcripts are sensitive: every page and API call needs a
login (or, with no accounts, the token printed at start), the roles are checked here and not
only on the page, media comes only from this home folder's evidence store, and the log names
requests by path only, never by content.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

from asgi_csrf import asgi_csrf
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..config import LANGUAGES, Settings
from ..export import core as export_core, protect
from ..export.documents import ExportError
from ..store import Store
from ..translate import Translator
from . import i18n, login
from .accounts import Accounts, Policy, load_policy
from .edits import Conflict, NeedsConfirmation, NotFound, ReviewError, Reviews
from .search_api import post_search
from .textfile import write_review_file

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
MAX_BODY = 1 << 20
MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
               ".mkv": "video/x-matroska", ".3gp": "video/3gpp", ".avi": "video/x-msvideo",
               ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg",
               ".opus": "audio/ogg", ".flac": "audio/flac"}
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"),
           (b"content-security-policy", b"default-src 'self'; media-src 'self'; connect-src 'self'")]


@dataclass
class Site:
    """What every request needs: the home folder's settings, the token and the shared translator."""

    settings: Settings
    token: str
    policy: Policy
    templates: Jinja2Templates
    translator: Translator
    translate_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def evidence(self) -> Path:
        return self.settings.evidence.resolve()

    def reviews(self) -> closing[Reviews]:
        """A Reviews per request (SQLite connections are not shared between threads), closed after."""
        return closing(Reviews(self.settings, self.translator))

    def render(self, request: Request, name: str, user: login.User | None, context: dict | None = None,
               status: int = 200, headers: dict | None = None) -> Response:
        """A page in the user's language, with the CSRF token its forms and script send back."""
        locale = login.language(request, user)
        gettext = i18n.translations(locale).gettext
        return self.templates.TemplateResponse(request, name, {
            "_": gettext, "locale": locale, "languages": i18n.names(), "user": user,
            "csrftoken": request.scope["csrftoken"](), "messages": i18n.messages(locale),
            **(context or {})}, status_code=status, headers=headers)


# Pages ----------------------------------------------------------------------------------

def page(request: Request) -> Response:
    """The list of interviews at /, one interview at /interviews/<id>: the same page, drawn by review.js."""
    entered = login.enter_with_token(request)
    if entered is not None:
        return entered
    user = login.current_user(request)
    if user is None:
        if login.accounts_exist(request):
            return login.login_redirect(request)
        raise HTTPException(401, "a token is needed: open the address (with ?token=...) that `testimony review` "
                                 "printed when it started")
    return request.app.state.site.render(request, "index.html", user)


def old_address(request: Request) -> Response:
    return RedirectResponse(f"/interviews/{request.path_params['interview_id']}", status_code=301)


# The JSON API -----------------------------------------------------------------------------

def me(request: Request) -> Response:
    user = login.require(request)
    return JSONResponse({"name": user.name, "role": user.role, "token_mode": user.token_mode,
                         "may": sorted(r for r in ("edit", "withhold", "export", "accounts") if user.may(r)),
                         "language": login.language(request, user)})


def interviews(request: Request) -> Response:
    """Every interview with its progress; ?case=, ?status= and ?flagged= (at least that many) filter it."""
    login.require(request)
    q = request.query_params
    with request.app.state.site.reviews() as reviews:
        rows = [reviews.progress(i) for i in reviews.interviews()]
    try:
        flagged = int(q.get("flagged") or 0)
    except ValueError:
        raise HTTPException(400, "flagged must be a whole number (the least number of flagged segments)")
    rows = [r for r in rows if (not q.get("case") or r["case_id"] == q["case"])
            and (not q.get("status") or r["status"] == q["status"]) and r["flagged"] >= flagged]
    return JSONResponse(rows)


def payload(reviews: Reviews, interview_id: str) -> dict:
    interview = reviews.find(interview_id)
    t = reviews.open(interview)
    write_review_file(reviews, interview)
    revisions = reviews.revisions(interview.interview_id)
    return {
        "interview_id": t.interview_id, "case_id": t.case_id, "language": t.language, "review": t.review,
        "translation": t.translation.get("status"), "languages": list(LANGUAGES),
        "media": {"url": f"/media/{interview.interview_id}", "kind": interview.media_kind,
                  "name": t.source.get("file")},
        "review_file": str(interview.out_dir / "review.txt"), "warnings": t.warnings,
        "segments": [{**asdict(seg), **revisions[seg.id]} for seg in t.segments],
    }


def interview(request: Request) -> Response:
    login.require(request)
    with request.app.state.site.reviews() as reviews:
        return JSONResponse(payload(reviews, request.path_params["interview_id"]))


def audit(request: Request) -> Response:
    login.require(request)
    with request.app.state.site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
        return JSONResponse(reviews.audit(found.interview_id, request.path_params["segment_id"]))


def media(request: Request) -> Response:
    """The original recording of an interview, from the evidence store only; Starlette answers Range requests."""
    login.require(request)
    site = request.app.state.site
    with site.reviews() as reviews:
        found = reviews.find(request.path_params["interview_id"])
    path = found.evidence_path.resolve()
    if not path.is_relative_to(site.evidence) or not path.is_file():
        log.warning("review page: media for %s is not in the evidence store; refused", found.interview_id)
        raise HTTPException(403, "the recording is not in this home folder's evidence store")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"))


async def json_body(request: Request) -> dict:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "posts must be JSON (Content-Type: application/json)")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, "request too large")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HTTPException(400, "the request body is not a JSON object")
    return body


def author(user: login.User, body: dict) -> str:
    """The name for the audit log: the account's, or in single-token mode the name typed on the page."""
    return user.name if not user.token_mode else str(body.get("reviewer") or "")


async def post_edit(request: Request) -> Response:
    body = await json_body(request)
    return await run_in_threadpool(_edit, request, body)


def _edit(request: Request, body: dict) -> Response:
    user = login.require(request, "edit")
    site, params = request.app.state.site, request.path_params
    who = author(user, body)
    with site.reviews() as reviews:
        found = reviews.find(params["interview_id"])
        action = params.get("action")
        if "segment_id" not in params:
            if action == "status":
                reviews.set_status(found, who, body["status"])
            elif action == "speakers":  # a name for a speaker in every segment: one audited edit
                reviews.rename_speaker(found, who, str(body["old"]), str(body["new"]))
            else:
                raise HTTPException(404, "no such action")
            return JSONResponse(payload(reviews, found.interview_id))
        seg_id, revision = params["segment_id"], int(body["revision"])
        if action is None:
            reviews.save(found, who, seg_id, revision, body["changes"])
        elif action == "split":
            reviews.split(found, who, seg_id, revision, float(body["at"]), int(body["offset"]))
        elif action == "merge":
            reviews.merge(found, who, seg_id, revision, int(body["next_revision"]))
        elif action == "translate":
            with site.translate_lock:  # one translation model load/run at a time
                reviews.retranslate(found, who, seg_id, revision, bool(body.get("replace")))
        else:
            raise HTTPException(404, "no such action")
        return JSONResponse(payload(reviews, found.interview_id))


async def post_press(request: Request) -> Response:
    body = await json_body(request)
    return await run_in_threadpool(_press, request, body)


def _press(request: Request, body: dict) -> Response:
    """Withhold names or segments, or export: a press officer's work, refused to reviewers by the server."""
    action = request.path_params["action"]
    user = login.require(request, action)
    site = request.app.state.site
    store = Store(site.settings.database)
    try:
        with site.reviews() as reviews:
            found = reviews.find(request.path_params["interview_id"])
        if action == "withhold":
            terms = [str(t) for t in body.get("terms") or []]
            segments = [int(s) for s in body.get("segments") or []]
            lines = export_core.withhold(site.settings, store, found.interview_id, terms, segments)
            reply = {"messages": lines}
        else:
            items = export_core.find(site.settings, store, found.interview_id)
            formats = export_core.parse_formats(body.get("formats"))
            # A protected interview leaves with its sidecar's protections unless an admin says not.
            override = bool(body.get("without_protection"))
            if override and user.role != "admin":
                raise HTTPException(403, "only an admin may export a protected interview "
                                         "without its protections")
            asked = body.get("protect") or ([] if override else protect.required(items[0].job))
            wanted = protect.parse(",".join(asked))
            export_core.check(items, bool(body.get("allow_unreviewed")), formats, wanted, override)
            admin = (user.name or "token holder") if override else None
            result = export_core.export(site.settings, store, items[0], formats,
                                        protections=wanted, override_by=admin)
            reply = {"folder": str(result.folder), "files": sorted(result.files), "notices": result.notices}
        # Who did it, by account: the custody log's own entry names files and hashes only.
        store.event("review page", sha256=found.sha256, interview_id=found.interview_id, action=action,
                    account=user.name or "token holder")
    finally:
        store.close()
    with site.reviews() as reviews:
        reply["interview"] = payload(reviews, found.interview_id)
    return JSONResponse(reply)


def account_list(request: Request) -> Response:
    login.require(request, "accounts")
    acc = login.accounts(request)
    try:
        return JSONResponse([{"name": a.name, "role": a.role, "active": a.active,
                              "locked": bool(a.locked_until)} for a in acc.list()])
    finally:
        acc.close()


async def account_action(request: Request) -> Response:
    def run() -> Response:
        user = login.require(request, "accounts")
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("disable", "enable"):
            raise HTTPException(404, "no such action")
        if name == user.name:
            raise HTTPException(400, "you cannot disable your own account")
        acc = login.accounts(request)
        try:
            acc.set_active(name, action == "enable")
        finally:
            acc.close()
        log.info("review page: %s %sd account %s", user.name, action, name)
        return account_list(request)

    await json_body(request)
    return await run_in_threadpool(run)


# Errors, headers, the app ------------------------------------------------------------------

def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def on_http_error(request: Request, exc: HTTPException) -> Response:
    if not request.url.path.startswith(("/api/", "/media/")) and exc.status_code in (401, 403, 404):
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><title>{exc.status_code}</title>"
                            f"<p>{exc.detail}</p>", status_code=exc.status_code)
    return _error(exc.status_code, exc.detail)


async def on_review_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Conflict):
        return _error(409, str(exc), conflict={"segment_id": exc.segment_id, "revision": exc.revision,
                                                "current": exc.current, "by": exc.by, "at": exc.at})
    if isinstance(exc, NeedsConfirmation):
        return _error(409, str(exc), needs_confirmation=True, proposed=exc.proposed)
    if isinstance(exc, NotFound):
        return _error(404, str(exc))
    if isinstance(exc, (ReviewError, ExportError)):
        return _error(400, str(exc))
    return _error(400, f"missing or wrong value in the request: {type(exc).__name__} {exc}")


class Guard:
    """Security headers on every reply, and one log line per request: method, path, status; never content."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        async def send_with_headers(event):
            if event["type"] == "http.response.start":  # logged before the reply leaves, so in order
                log.info("review page %s %s -> %s", scope["method"], scope["path"], event["status"])
                event = {**event, "headers": list(event.get("headers") or []) + HEADERS}
            await send(event)

        await self.app(scope, receive, send_with_headers)


def build_app(settings: Settings, token: str, port: int, *, https: bool = False, loopback: bool = True):
    """The review page as an ASGI app; cookie names carry the port, as browsers share cookies across ports."""
    policy = load_policy(settings)
    acc = Accounts(settings, policy)
    try:
        session_key, csrf_key = acc.key("session"), acc.key("csrf")
    finally:
        acc.close()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    site = Site(settings, token, policy, templates, Translator(settings))
    errors = {HTTPException: on_http_error}
    errors.update({exc: on_review_error for exc in (ReviewError, ExportError, KeyError, TypeError, ValueError)})
    middleware = [Middleware(Guard)]
    if loopback:  # a DNS-rebinding page under another host name cannot reach a loopback server
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES, www_redirect=False))
    middleware.append(Middleware(SessionMiddleware, secret_key=session_key, session_cookie=f"testimony-{port}",
                                 max_age=int(policy.session_hours * 3600), same_site="strict", https_only=https))
    app = Starlette(routes=[
        Route("/", page), Route("/interviews/{interview_id}", page),
        Route("/i/{interview_id}", old_address),
        Route("/login", login.login_page, methods=["GET"]), Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/api/me", me),
        Route("/api/interviews", interviews),
        Route("/api/interviews/{interview_id}", interview),
        Route("/api/interviews/{interview_id}/{action:str}", post_edit, methods=["POST"]),
        Route("/api/interviews/{interview_id}/segments/{segment_id:int}", post_edit, methods=["POST"]),
        Route("/api/interviews/{interview_id}/segments/{segment_id:int}/audit", audit),
        Route("/api/interviews/{interview_id}/segments/{segment_id:int}/{action:str}", post_edit, methods=["POST"]),
        Route("/api/interviews/{interview_id}/press/{action:str}", post_press, methods=["POST"]),
        Route("/api/search", post_search, methods=["POST"]),
        Route("/api/accounts", account_list),
        Route("/api/accounts/{name}/{action}", account_action, methods=["POST"]),
        Route("/media/{interview_id}", media, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ], middleware=middleware, exception_handlers=errors)
    app.state.site = site
    # CSRF: asgi-csrf (as datasette uses it) wants the token from its cookie back in a form field or header.
    return asgi_csrf(app, signing_secret=csrf_key, cookie_name=f"testimony-csrf-{port}", cookie_secure=https,
                     cookie_samesite="Strict")
