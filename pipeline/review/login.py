"""Who is asking: the logged-in account (or, with no accounts, the holder of the printed token).

The session cookie is Starlette's signed SessionMiddleware cookie; it carries only a random
session ID that the database must still know (see accounts.py), the token's digest in
single-token mode, and the chosen interface language. Logging in always issues a new
session ID, so a session planted before login is worthless after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from . import i18n
from .accounts import RIGHTS, Accounts

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-testimony-token"
MAX_NAME = 64
MAX_PASSWORD = 1024


@dataclass(frozen=True)
class User:
    """The person behind a request: an account, or the single-token holder (name typed on the page)."""

    name: str | None
    role: str
    language: str | None = None

    @property
    def token_mode(self) -> bool:
        return self.name is None

    def may(self, right: str) -> bool:
        return right in RIGHTS[self.role]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accounts(request: Request) -> Accounts:
    site = request.app.state.site
    return Accounts(site.settings, site.policy)


def current_user(request: Request) -> User | None:
    """The user of a request, or None; blocking (SQLite), so called from a worker thread."""
    site = request.app.state.site
    acc = accounts(request)
    try:
        if acc.any():
            session_id = request.session.get("sid")
            account = acc.session(session_id) if session_id else None
            if account is None:
                request.session.pop("sid", None)
                return None
            return User(account.name, account.role, account.language)
    finally:
        acc.close()
    given = request.headers.get(TOKEN_HEADER, "")
    if given and hmac.compare_digest(given.encode(), site.token.encode()):
        return User(None, "press")
    if hmac.compare_digest(request.session.get("token", ""), token_digest(site.token)):
        return User(None, "press")
    return None


def require(request: Request, right: str | None = None) -> User:
    """The user, or an HTTP error: 401 when nobody is logged in, 403 when the role lacks the right."""
    user = current_user(request)
    if user is None:
        raise HTTPException(
            401,
            "log in first"
            if accounts_exist(request)
            else "a token is needed: open the address (with ?token=...) that `testimony review` printed",
        )
    if right is not None and not user.may(right):
        log.warning(
            "review page: %s (%s) refused %s on %s", user.name, user.role, right, request.url.path
        )
        raise HTTPException(403, f"your role ({user.role}) may not do this")
    return user


def accounts_exist(request: Request) -> bool:
    acc = accounts(request)
    try:
        return acc.any()
    finally:
        acc.close()


def language(request: Request, user: User | None) -> str:
    """The interface language: ?lang= (remembered), else the session's or account's choice, else the browser's."""
    chosen = i18n.supported(request.query_params.get("lang"))
    if chosen:
        request.session["lang"] = chosen
        if user and not user.token_mode:
            acc = accounts(request)
            try:
                acc.set_language(user.name, chosen)
            finally:
                acc.close()
    return i18n.choose(
        request.headers.get("accept-language"),
        chosen,
        request.session.get("lang"),
        user.language if user else None,
    )


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link cannot send anyone elsewhere."""
    parts = urlsplit(target or "/")
    if (
        parts.scheme
        or parts.netloc
        or not parts.path.startswith("/")
        or parts.path.startswith("//")
    ):
        return "/"
    return (
        parts.path
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def login_page(request: Request) -> Response:
    user = await run_in_threadpool(current_user, request)
    if user is not None and not user.token_mode:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return await run_in_threadpool(_login_form, request, None, 200)


def _login_form(
    request: Request, error: str | None, status: int, headers: dict | None = None
) -> Response:
    site = request.app.state.site
    return site.render(
        request,
        "login.html",
        None,
        {
            "error": error,
            "next": safe_next(request.query_params.get("next") or request.session.get("next")),
        },
        status,
        headers,
    )


async def login(request: Request) -> Response:
    """Log in from the form; every failure answers alike (status, words, delay, Retry-After)."""
    async with request.form(max_fields=8, max_files=0) as form:
        name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
        target = safe_next(str(form.get("next") or "/"))
    if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
        raise HTTPException(
            400, f"a name is at most {MAX_NAME} and a password at most {MAX_PASSWORD} characters"
        )
    acc = accounts(request)
    try:
        client = request.client.host if request.client else "local"
        result = await run_in_threadpool(acc.check, name, password, client)
        if result.account is None:
            tr = i18n.translations(language(request, None))
            if result.client_blocked_until:
                wait = max(1, math.ceil(result.client_blocked_until - time.time()))
                error = tr.gettext(
                    "Too many wrong passwords from this computer: try again in {minutes} minutes."
                ).format(minutes=math.ceil(wait / 60))
                status = 429
            else:
                wait = acc.delay(result)
                await asyncio.sleep(wait)  # slows guessing; the event loop serves others meanwhile
                error = tr.gettext(
                    "Wrong name or password. After {count} wrong passwords in a row "
                    "an account is locked for {minutes} minutes."
                ).format(count=acc.policy.lockout_after, minutes=f"{acc.policy.lockout_minutes:g}")
                status = 401
            request.scope["query_string"] = f"next={quote(target)}".encode()
            return await run_in_threadpool(
                _login_form, request, error, status, {"Retry-After": str(math.ceil(wait))}
            )
        session_id = await run_in_threadpool(acc.start_session, result.account.name)
    finally:
        acc.close()
    lang = request.session.get("lang")
    request.session.clear()  # nothing from before the login survives but the language
    request.session["sid"] = session_id
    if lang:
        request.session["lang"] = lang
    log.info("review page: account %s logged in", name)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    session_id = request.session.get("sid")
    if session_id:
        acc = accounts(request)
        try:
            await run_in_threadpool(acc.end_session, session_id)
        finally:
            acc.close()
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


def enter_with_token(request: Request) -> Response | None:
    """The printed address ``/?token=...``: keep the token's digest in the session and drop it from the URL."""
    given = request.query_params.get("token")
    if given is None:
        return None
    site = request.app.state.site
    if not hmac.compare_digest(given.encode(), site.token.encode()):
        raise HTTPException(403, "wrong token; use the address printed by `testimony review`")
    request.session["token"] = token_digest(site.token)
    return RedirectResponse(request.url.path, status_code=303)
