"""The review page as a Starlette app: its routes, pages in four languages, errors as JSON.

HTTP itself (parsing, sessions, CSRF, static files, range requests) is Starlette's, uvicorn's
and asgi-csrf's; gate.py screens every request first, the handlers (api.py, press_api.py,
team_api.py, search_api.py) say who may do what and hand the work to the review logic in
edits.py, and views.py says what each role sees. Recordings and transcripts are sensitive:
every page and API call needs a login (or, with no accounts, the token printed at start), the
roles are checked on the server and not only on the page, media comes only from this home
folder's evidence store, and the log names requests by path only, never by content.
"""

from __future__ import annotations

import html
import json
import logging
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from asgi_csrf import asgi_csrf
from starlette.applications import Starlette
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..config import Settings
from ..export.documents import ExportError
from ..translate import Translator
from . import api, i18n, login, press_api, team_api
from .accounts import AccountError, Accounts, Policy, load_policy
from .changes import Conflict, NeedsConfirmation, NotFound, ReviewError
from .edits import Reviews
from .gate import Gate
from .public import hide_paths
from .search_api import post_search
from .suggestions_api import get_suggestions

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


@dataclass
class Site:
    """What every request needs: the home folder's settings, the token and the shared translator."""

    settings: Settings
    token: str
    policy: Policy
    templates: Jinja2Templates
    translator: Translator

    @property
    def evidence(self) -> Path:
        return self.settings.evidence.resolve()

    def reviews(self) -> closing[Reviews]:
        """A Reviews per request (SQLite connections are not shared between threads), closed after."""
        return closing(Reviews(self.settings, self.translator))

    def render(
        self,
        request: Request,
        name: str,
        user: login.User | None,
        context: dict | None = None,
        status: int = 200,
        headers: dict | None = None,
    ) -> Response:
        """A page in the user's language, with the CSRF token its forms and script send back."""
        locale = login.language(request, user)
        gettext = i18n.translations(locale).gettext
        return self.templates.TemplateResponse(
            request,
            name,
            {
                "_": gettext,
                "locale": locale,
                "languages": i18n.names(),
                "user": user,
                "csrftoken": request.scope["csrftoken"](),
                "messages": i18n.messages(locale),
                **(context or {}),
            },
            status_code=status,
            headers=headers,
        )


# Pages ----------------------------------------------------------------------------------


def page(request: Request) -> Response:
    """The list of interviews at /, one interview at /interviews/<id>: one page (static/main.js)."""
    entered = login.enter_with_token(request)
    if entered is not None:
        return entered
    user = login.current_user(request)
    if user is None:
        if login.accounts_exist(request):
            return login.login_redirect(request)
        raise HTTPException(
            401,
            "a token is needed: open the address (with ?token=...) that `testimony review` "
            "printed when it started",
        )
    return request.app.state.site.render(request, "index.html", user)


def old_address(request: Request) -> Response:
    return RedirectResponse(f"/interviews/{request.path_params['interview_id']}", status_code=301)


# Errors, headers, the app ------------------------------------------------------------------


def _error(
    request: Request, status: int, message: str, headers: dict | None = None, **extra
) -> JSONResponse:
    message = hide_paths(request.app.state.site.settings, str(message))
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def on_http_error(request: Request, exc: HTTPException) -> Response:
    if not request.url.path.startswith(("/api/", "/media/")) and exc.status_code in (401, 403, 404):
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><title>{exc.status_code}</title>"
            f"<p>{html.escape(str(exc.detail))}</p>",
            status_code=exc.status_code,
        )
    return _error(request, exc.status_code, exc.detail, headers=exc.headers)


async def on_review_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Conflict):
        return _error(
            request,
            409,
            str(exc),
            conflict={
                "segment_id": exc.segment_id,
                "revision": exc.revision,
                "current": exc.current,
                "by": exc.by,
                "at": exc.at,
            },
        )
    if isinstance(exc, NeedsConfirmation):
        return _error(request, 409, str(exc), needs_confirmation=True, proposed=exc.proposed)
    if isinstance(exc, NotFound):
        return _error(request, 404, str(exc))
    return _error(request, 400, str(exc))


async def csrf_failed(scope, send, message_id) -> None:
    """asgi-csrf's refusal, in words: the form or page is stale, or the post came from elsewhere."""
    body = json.dumps(
        {
            "error": "this request lacks the page's CSRF token (a form from another "
            "site, or a page open since before a restart): reload the page and "
            "try again"
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SegmentId(IntegerConvertor):
    """A segment ID in an address: at most nine digits, so no number too large for SQLite."""

    regex = "[0-9]{1,9}"


register_url_convertor("segment", SegmentId())

INTERVIEW = "/api/interviews/{interview_id}"
SEGMENT = INTERVIEW + "/segments/{segment_id:segment}"
# Every route of the page; tests/security/ checks each against its rule for every role.
ROUTES = [
    Route("/", page),
    Route("/interviews/{interview_id}", page),
    Route("/i/{interview_id}", old_address),
    Route("/login", login.login_page, methods=["GET"]),
    Route("/login", login.login, methods=["POST"]),
    Route("/logout", login.logout, methods=["POST"]),
    Route("/api/me", api.me),
    Route("/api/interviews", api.interviews),
    Route(INTERVIEW, api.interview),
    Route(INTERVIEW + "/suggestions", get_suggestions),
    Route(INTERVIEW + "/status", api.post_status, methods=["POST"]),
    Route(INTERVIEW + "/speakers", api.post_speakers, methods=["POST"]),
    Route(INTERVIEW + "/merge-speakers", api.post_merge_speakers, methods=["POST"]),
    Route(SEGMENT, api.post_save, methods=["POST"]),
    Route(SEGMENT + "/split", api.post_split, methods=["POST"]),
    Route(SEGMENT + "/merge", api.post_merge, methods=["POST"]),
    Route(SEGMENT + "/translate", api.post_translate, methods=["POST"]),
    Route(SEGMENT + "/audit", api.audit),
    Route(INTERVIEW + "/press/withhold", press_api.post_withhold, methods=["POST"]),
    Route(INTERVIEW + "/press/export", press_api.post_export, methods=["POST"]),
    Route("/api/search", post_search, methods=["POST"]),
    Route("/api/accounts", team_api.account_list),
    Route("/api/accounts/disable", team_api.post_disable, methods=["POST"]),
    Route("/api/accounts/enable", team_api.post_enable, methods=["POST"]),
    Route("/media/{interview_id}", api.media, methods=["GET", "HEAD"]),
    Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
]


def build_app(
    settings: Settings, token: str, port: int, *, https: bool = False, loopback: bool = True
):
    """The review page as an ASGI app; cookie names carry the port (browsers share cookies
    across ports).

    From the outside in: the gate (methods, sizes, content types, only this page's cookies,
    headers), asgi-csrf (every post, /login and /logout included, needs the token), then Starlette.
    """
    policy = load_policy(settings)
    acc = Accounts(settings, policy)
    try:
        session_key, csrf_key = acc.key("session"), acc.key("csrf")
    finally:
        acc.close()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    site = Site(settings, token, policy, templates, Translator(settings))
    errors = {HTTPException: on_http_error}
    errors.update({exc: on_review_error for exc in (ReviewError, ExportError, AccountError)})
    middleware = []
    if loopback:  # a DNS-rebinding page under another host name cannot reach a loopback server
        middleware.append(
            Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES, www_redirect=False)
        )
    session_cookie, csrf_cookie = f"testimony-{port}", f"testimony-csrf-{port}"
    middleware.append(
        Middleware(
            SessionMiddleware,
            secret_key=session_key,
            session_cookie=session_cookie,
            same_site="strict",
            https_only=https,
            max_age=int(policy.session_hours * 3600),
        )
    )
    app = Starlette(routes=ROUTES, middleware=middleware, exception_handlers=errors)
    app.state.site = site
    # CSRF: asgi-csrf (as datasette uses it) wants the token from its cookie back in a form field or
    # header. Without a cookie it lets a post through unless the path is "always protected": the
    # login form is, or another site could log a browser in (or lock accounts) with its own post.
    protected = asgi_csrf(
        app,
        signing_secret=csrf_key,
        cookie_name=csrf_cookie,
        cookie_secure=https,
        cookie_samesite="Strict",
        always_protect={"/login", "/logout"},
        send_csrf_failed=csrf_failed,
    )
    return Gate(protected, {session_cookie, csrf_cookie})
