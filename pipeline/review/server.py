"""The local review page: a small JSON API and static files on the standard library's HTTP server.

Recordings and transcripts are sensitive, so the server is shut by default: it binds to
127.0.0.1, every request needs the secret token printed at start (given once as ``?token=``,
then kept in a same-site cookie), posts must be JSON from the page's own origin (a cross-site
form cannot send that), media comes only from this home folder's evidence store, and the log
names requests by path only, never by content.
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import re
import secrets
import threading
from contextlib import closing
from dataclasses import asdict
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import LANGUAGES, Settings
from ..translate import Translator
from .edits import Conflict, NeedsConfirmation, NotFound, ReviewError, Reviews
from .textfile import write_review_file

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_BODY = 1 << 20
CHUNK = 1 << 16
MEDIA_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
               ".mkv": "video/x-matroska", ".3gp": "video/3gpp", ".avi": "video/x-msvideo",
               ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg",
               ".opus": "audio/ogg", ".flac": "audio/flac"}
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
SEGMENT_ROUTE = re.compile(r"^/api/interviews/([^/]+)/segments/(\d+)(?:/(split|merge|translate|audit))?$")


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, settings: Settings, host: str, port: int, token: str | None = None):
        super().__init__((host, port), Handler)
        self.settings = settings
        self.token = token or secrets.token_urlsafe(24)
        self.host = host
        self.translator = Translator(settings)  # loads a model on first use, then keeps it
        self.translate_lock = threading.Lock()  # one CTranslate2 model load/run at a time
        self.evidence = settings.evidence.resolve()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def cookie_name(self) -> str:
        return f"testimony-review-{self.port}"

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{shown}:{self.port}/?token={self.token}"


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"
    server_version = "testimony-review"
    sys_version = ""

    def log_message(self, fmt: str, *args) -> None:
        """Method, path without query (which may hold the token) and status; never any content."""
        log.info("review page %s %s -> %s", self.command, urlsplit(self.path).path, getattr(self, "_status", "-"))

    # Replies ------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", "default-src 'self'; media-src 'self'; connect-src 'self'")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str, **extra) -> None:
        self._json(status, {"error": message, **extra})

    # Access -------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        """Refuse other host names on a loopback bind, so a DNS-rebinding page cannot reach us."""
        if self.server.host not in LOOPBACK:
            return True
        return self.headers.get("Host", "") in {f"{h}:{self.server.port}" for h in LOOPBACK}

    def _authorised(self) -> bool:
        token = self.server.token
        given = self.headers.get("X-Testimony-Token", "")
        if not given:
            morsel = SimpleCookie(self.headers.get("Cookie", "")).get(self.server.cookie_name)
            given = morsel.value if morsel else ""
        return hmac.compare_digest(given.encode(), token.encode())

    def _cross_site(self) -> str | None:
        """Why a post is refused as possibly cross-site, or None."""
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return "cross-site requests are refused"
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host', '')}":
            return "requests from another origin are refused"
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return "posts must be JSON (Content-Type: application/json)"
        return None

    def _gate(self) -> bool:
        if not self._host_ok():
            self._error(403, "unknown Host header; open the address printed by `testimony review`")
            return False
        url = urlsplit(self.path)
        query_token = parse_qs(url.query).get("token", [""])[0]
        if self.command == "GET" and query_token:
            if not hmac.compare_digest(query_token.encode(), self.server.token.encode()):
                self._error(403, "wrong token; use the address printed by `testimony review`")
                return False
            cookie = f"{self.server.cookie_name}={self.server.token}; Path=/; HttpOnly; SameSite=Strict"
            self._send(303, b"", "text/plain", {"Location": url.path or "/", "Set-Cookie": cookie})
            return False
        if not self._authorised():
            self._error(401, "a token is needed: open the address (with ?token=...) that `testimony review` "
                             "printed when it started")
            return False
        return True

    # GET ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._gate():
            return
        path = urlsplit(self.path).path
        try:
            if path == "/" or path.startswith("/i/"):
                return self._static("index.html")
            if path.startswith("/static/"):
                return self._static(unquote(path[len("/static/"):]))
            if path.startswith("/media/"):
                return self._media(unquote(path[len("/media/"):]))
            with self._reviews() as reviews:
                if path == "/api/interviews":
                    return self._json(200, [reviews.progress(i) for i in reviews.interviews()])
                m = re.fullmatch(r"/api/interviews/([^/]+)", path)
                if m:
                    return self._json(200, self._payload(reviews, unquote(m[1])))
                m = SEGMENT_ROUTE.match(path)
                if m and m[3] == "audit":
                    interview = reviews.find(unquote(m[1]))
                    return self._json(200, reviews.audit(interview.interview_id, int(m[2])))
            self._error(404, "no such page")
        except NotFound as exc:
            self._error(404, str(exc))

    def _static(self, name: str) -> None:
        root = STATIC.resolve()
        target = (root / name).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return self._error(404, "no such file")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(200, target.read_bytes(), f"{kind}; charset=utf-8" if kind.startswith("text/") or
                   kind.endswith("javascript") else kind)

    def _media(self, interview_id: str) -> None:
        """The original recording of an interview, from the evidence store only, with Range support."""
        with self._reviews() as reviews:
            interview = reviews.find(interview_id)
        path = interview.evidence_path.resolve()
        if not path.is_relative_to(self.server.evidence) or not path.is_file():
            log.warning("review page: media for %s is not in the evidence store; refused", interview_id)
            return self._error(403, "the recording is not in this home folder's evidence store")
        size = path.stat().st_size
        start, end = 0, size - 1
        status, headers = 200, {"Accept-Ranges": "bytes"}
        spec = self.headers.get("Range")
        if spec:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
            if not m or (not m[1] and not m[2]):
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            if m[1]:
                start, end = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
            else:
                start = max(size - int(m[2]), 0)
            if start > end or start >= size:
                return self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"))
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        with path.open("rb") as fh:
            fh.seek(start)
            left = end - start + 1
            try:
                while left > 0:
                    chunk = fh.read(min(CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the player seeked elsewhere and dropped this request

    do_HEAD = do_GET

    # POST ---------------------------------------------------------------------------
    def do_POST(self) -> None:
        if not self._host_ok():
            return self._error(403, "unknown Host header; open the address printed by `testimony review`")
        why = self._cross_site()
        if why:
            log.warning("review page: refused a post to %s: %s", urlsplit(self.path).path, why)
            return self._error(403, why)
        if not self._authorised():
            return self._error(401, "a token is needed: reload the page from the address `testimony review` printed")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._error(413, "request too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self._error(400, "the request body is not a JSON object")
        path = urlsplit(self.path).path
        try:
            with self._reviews() as reviews:
                self._post(reviews, path, body)
        except Conflict as exc:
            self._error(409, str(exc), conflict={"segment_id": exc.segment_id, "revision": exc.revision,
                                                 "current": exc.current, "by": exc.by, "at": exc.at})
        except NeedsConfirmation as exc:
            self._error(409, str(exc), needs_confirmation=True, proposed=exc.proposed)
        except NotFound as exc:
            self._error(404, str(exc))
        except ReviewError as exc:
            self._error(400, str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            self._error(400, f"missing or wrong value in the request: {type(exc).__name__} {exc}")

    def _post(self, reviews: Reviews, path: str, body: dict) -> None:
        reviewer = str(body.get("reviewer") or "")
        m = re.fullmatch(r"/api/interviews/([^/]+)/status", path)
        if m:
            interview = reviews.find(unquote(m[1]))
            reviews.set_status(interview, reviewer, body["status"])
            return self._json(200, self._payload(reviews, interview.interview_id))
        m = SEGMENT_ROUTE.match(path)
        if not m or m[3] == "audit":
            return self._error(404, "no such action")
        interview = reviews.find(unquote(m[1]))
        seg_id, revision, action = int(m[2]), int(body["revision"]), m[3]
        if action is None:
            reviews.save(interview, reviewer, seg_id, revision, body["changes"])
        elif action == "split":
            reviews.split(interview, reviewer, seg_id, revision, float(body["at"]), int(body["offset"]))
        elif action == "merge":
            reviews.merge(interview, reviewer, seg_id, revision, int(body["next_revision"]))
        else:
            with self.server.translate_lock:
                reviews.retranslate(interview, reviewer, seg_id, revision, bool(body.get("replace")))
        self._json(200, self._payload(reviews, interview.interview_id))

    # Data ---------------------------------------------------------------------------
    def _reviews(self) -> closing[Reviews]:
        """A Reviews per request (SQLite connections are not shared between threads), closed after."""
        return closing(Reviews(self.server.settings, self.server.translator))

    def _payload(self, reviews: Reviews, interview_id: str) -> dict:
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


def make_server(settings: Settings, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> ReviewServer:
    return ReviewServer(settings, host, port, token)
