"""The broker side shared by the coordinator and the workers: the Celery app, the checks of a
broker URL, and the wire format of a piece's audio (lossless FLAC).

- Messages are JSON only. Tasks are acknowledged late and rejected when their worker is lost,
  so a piece whose worker died goes back to the queue; Redis keeps queued pieces across its
  own restart when it persists them (``appendonly yes``).
- A piece's queue is named after the model (``asr-<sha256>``), and a worker listens only to
  the queues of the models it holds, so a piece is never decoded by another model.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import ffmpeg
import numpy as np
from celery import Celery

from .. import media

TASK = "testimony.transcribe_piece"

app = Celery("testimony", set_as_current=False)


class BrokerError(RuntimeError):
    """The broker URL is unsafe or the broker cannot be used; the message says what to fix."""


# The broker ----------------------------------------------------------------------------------


def shown(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Refuse a broker URL that cannot work or would expose the pieces; return it unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise BrokerError(
            f"broker {url.split('@')[-1]!r} is not a Redis URL: use redis://:PASSWORD@HOST:6379/0 "
            f"(or rediss:// for TLS) in [cluster] broker or TESTIMONY_BROKER"
        )
    if not _loopback(parts.hostname) and not parts.password:
        raise BrokerError(
            f"broker {shown(url)} is on another machine but the URL has no password: set "
            f"requirepass in redis.conf and use redis://:PASSWORD@{parts.hostname}:"
            f"{parts.port or 6379}{parts.path or '/0'}"
        )
    if parts.scheme == "rediss" and "ssl_cert_reqs" not in (parts.query or ""):
        raise BrokerError(
            f"broker {shown(url)}: a rediss:// URL needs ?ssl_cert_reqs=required (and "
            f"&ssl_ca_certs=/path/to/ca.pem when the server's certificate is your own)"
        )
    return url


def preflight(url: str) -> None:
    """Reach the broker once, so a wrong password or address is one clear line, not a traceback."""
    import redis

    check_url(url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except redis.exceptions.AuthenticationError:
        raise BrokerError(
            f"the broker at {shown(url)} refused the password: put the password of its "
            f"requirepass in the URL (redis://:PASSWORD@host:port/0)"
        ) from None
    except redis.exceptions.ResponseError as exc:
        if "NOAUTH" in str(exc) or "auth" in str(exc).lower():
            raise BrokerError(
                f"the broker at {shown(url)} wants a password: put it in the URL "
                f"(redis://:PASSWORD@host:port/0)"
            ) from None
        raise BrokerError(f"the broker at {shown(url)} answered: {exc}") from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BrokerError(
            f"cannot reach the broker at {shown(url)} ({reason}): check that redis-server "
            f"runs there, the host and port, and the firewall"
        ) from None


def configure(url: str, visibility_timeout: float) -> Celery:
    """Set the shared app up for ``url``: JSON only, late acknowledgement, requeue on a lost worker."""
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A piece left unacknowledged longer than this (its worker's machine died) is queued again;
        # kombu looks for such pieces every unacked_restore_interval x throttle seconds.
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            "unacked_restore_throttle": 1,
            "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 4)),
        },
        broker_connection_retry_on_startup=True,
        result_backend_always_retry=True,
        result_expires=7 * 86400,
        task_track_started=True,
    )
    return app


def queue_for(model_sha256: str) -> str:
    return f"asr-{model_sha256}"


def workers(timeout: float = 1.0) -> dict[str, list[str]]:
    """Connected workers (node name) and the queues they take pieces from."""
    found = app.control.inspect(timeout=timeout).active_queues() or {}
    return {node: [q["name"] for q in queues] for node, queues in found.items()}


def pieces_out(timeout: float = 1.0) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Pieces being decoded, per worker (as "interview piece N"), and pieces queued, per queue."""
    active = app.control.inspect(timeout=timeout).active() or {}
    running = {
        node: [t.get("kwargsrepr") or t.get("id") for t in tasks] for node, tasks in active.items()
    }
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        queued = {
            key.decode(): client.llen(key) for key in client.scan_iter(match="asr-*", _type="list")
        }
    return running, queued


# The wire format of a piece's audio ------------------------------------------------------------


def _ffmpeg(stream, data: bytes) -> bytes:
    out, _ = stream.global_args("-hide_banner", "-loglevel", "error").run(
        input=data, capture_stdout=True, capture_stderr=True, cmd=media.ffmpeg_binary()
    )
    return out


def to_flac(audio: np.ndarray) -> bytes:
    """16 kHz mono float32 audio (from 16-bit PCM) as FLAC: lossless, about half the size."""
    pcm = np.round(audio * 32768.0).clip(-32768, 32767).astype("<i2").tobytes()
    return _ffmpeg(
        ffmpeg.input("pipe:", format="s16le", ac=1, ar=media.SAMPLE_RATE).output(
            "pipe:", format="flac"
        ),
        pcm,
    )


def from_flac(data: bytes) -> np.ndarray:
    pcm = _ffmpeg(
        ffmpeg.input("pipe:", format="flac").output(
            "pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=media.SAMPLE_RATE
        ),
        data,
    )
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
