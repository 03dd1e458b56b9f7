"""Running the review page under uvicorn: the listening socket, TLS, and a thread for tests.

The socket is bound before the app is built, so the app knows its port (its cookie names
carry it) even when the port was 0 (any free one).
"""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
import threading
import time
from pathlib import Path

import uvicorn

from ..config import Settings
from .server import build_app

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class InsecureNetwork(ValueError):
    """Serving the page to the network without TLS, which was not explicitly allowed."""


class TLSError(ValueError):
    """A certificate or key that cannot serve HTTPS; the message says which and why."""


def check_tls(cert: Path, key: Path) -> None:
    """Load the pair as uvicorn will, before serving: a bad key is a sentence, not a traceback."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise TLSError(
            f"{cert} and {key} cannot serve HTTPS ({exc.reason or exc.strerror}): give "
            f"a PEM certificate and the PEM private key it was made with"
        ) from None
    except OSError as exc:
        raise TLSError(f"cannot read {exc.filename or cert}: {exc.strerror}") from None


class ReviewServer:
    """The review page on one socket; ``serve_forever`` in the foreground or ``start``/``stop`` in a thread."""

    def __init__(
        self,
        settings: Settings,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        insecure_http: bool = False,
    ):
        if (tls_cert is None) != (tls_key is None):
            raise InsecureNetwork(
                "give both --tls-cert and --tls-key (a certificate and its private key)"
            )
        self.host, self.https = host, tls_cert is not None
        if tls_cert is not None:
            check_tls(tls_cert, tls_key)
        if host not in LOOPBACK and not self.https and not insecure_http:
            raise InsecureNetwork(
                f"refusing to serve the review page on {host} without TLS: passwords and testimony would cross "
                f"the network in clear text. Give --tls-cert FILE --tls-key FILE "
                f"(docs/operations/tls.md makes a self-signed certificate), or --insecure-http if this "
                f"network is truly private"
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        self.token = token or secrets.token_urlsafe(24)
        self.app = build_app(
            settings, self.token, self.port, https=self.https, loopback=host in LOOPBACK
        )
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            # X-Forwarded-For from loopback would give each forged address its
            # own login-guess budget; a client is the address it connects from.
            proxy_headers=False,
        )
        # uvicorn's access log would write whole URLs, the printed token among them; Guard logs paths only.
        logging.getLogger("uvicorn.access").disabled = True
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        shown = (
            "127.0.0.1"
            if self.host in ("", "0.0.0.0")
            else f"[{self.host}]"
            if ":" in self.host
            else self.host
        )
        return f"{'https' if self.https else 'http'}://{shown}:{self.port}"

    @property
    def url(self) -> str:
        """The address to print: with the token, which single-token mode needs (ignored once accounts exist)."""
        return f"{self.base}/?token={self.token}"

    def serve_forever(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 60) -> "ReviewServer":
        self.thread = threading.Thread(target=self.serve_forever, name="review-page", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the review page did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=30)
        self.sock.close()


def make_server(
    settings: Settings, host: str = "127.0.0.1", port: int = 0, token: str | None = None, **network
) -> ReviewServer:
    return ReviewServer(settings, host, port, token, **network)
