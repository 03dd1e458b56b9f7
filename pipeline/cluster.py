"""Several machines: a job's audio pieces go out as Celery tasks through Redis, segments come back.

With a broker in the settings (``[cluster] broker`` or ``TESTIMONY_BROKER``), the process that
runs ``watch`` or ``process`` is the *coordinator*: it still takes recordings in, cuts their
audio into pieces and writes the evidence store, the database, the custody log and the outbox;
only the decoding of each piece happens on a ``testimony worker`` (:mod:`pipeline.cluster_worker`).

- A task carries one piece's audio, compressed losslessly (FLAC), the decoding options and the
  model's SHA-256; never the original video, never a path. Its queue is named after the model
  (``asr-<sha256>``), and a worker listens only to the queues of the models it holds, so a
  piece is never decoded by another model.
- Messages are JSON only. Tasks are acknowledged late and rejected when their worker is lost,
  so a piece whose worker died goes back to the queue; Redis keeps queued pieces across its
  own restart when it persists them (``appendonly yes``).
- Task IDs are derived from the interview, the piece number and the resume key, and a result
  is saved where the single-machine run saves its pieces (:func:`pipeline.asr.saved_piece`):
  a piece that comes back twice is stored once, a coordinator restart collects what finished
  meanwhile and sends again only the pieces without a result.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import ffmpeg
import numpy as np
from celery import Celery

from . import asr, media
from .config import Settings
from .store import Job, Store
from .transcript import write_atomic

log = logging.getLogger(__name__)

TASK = "testimony.transcribe_piece"
_IDS = uuid.UUID("5b0e3c55-6d1c-4d8e-9a53-0d7f3c1c8a11")  # namespace of the deterministic task IDs
POLL_S = 0.5
WORKER_CHECK_S = 10.0

app = Celery("testimony", set_as_current=False)


class BrokerError(RuntimeError):
    """The broker URL is unsafe or the broker cannot be used; the message says what to fix."""


# The broker ----------------------------------------------------------------------------------

def _shown(url: str) -> str:
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
        raise BrokerError(f"broker {url.split('@')[-1]!r} is not a Redis URL: use redis://:PASSWORD@HOST:6379/0 "
                          f"(or rediss:// for TLS) in [cluster] broker or TESTIMONY_BROKER")
    if not _loopback(parts.hostname) and not parts.password:
        raise BrokerError(f"broker {_shown(url)} is on another machine but the URL has no password: set "
                          f"requirepass in redis.conf and use redis://:PASSWORD@{parts.hostname}:"
                          f"{parts.port or 6379}{parts.path or '/0'}")
    if parts.scheme == "rediss" and "ssl_cert_reqs" not in (parts.query or ""):
        raise BrokerError(f"broker {_shown(url)}: a rediss:// URL needs ?ssl_cert_reqs=required (and "
                          f"&ssl_ca_certs=/path/to/ca.pem when the server's certificate is your own)")
    return url


def preflight(url: str) -> None:
    """Reach the broker once, so a wrong password or address is one clear line, not a traceback."""
    import redis

    check_url(url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except redis.exceptions.AuthenticationError:
        raise BrokerError(f"the broker at {_shown(url)} refused the password: put the password of its "
                          f"requirepass in the URL (redis://:PASSWORD@host:port/0)") from None
    except redis.exceptions.ResponseError as exc:
        if "NOAUTH" in str(exc) or "auth" in str(exc).lower():
            raise BrokerError(f"the broker at {_shown(url)} wants a password: put it in the URL "
                              f"(redis://:PASSWORD@host:port/0)") from None
        raise BrokerError(f"the broker at {_shown(url)} answered: {exc}") from None
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BrokerError(f"cannot reach the broker at {_shown(url)} ({reason}): check that redis-server "
                          f"runs there, the host and port, and the firewall") from None


def configure(url: str, visibility_timeout: float) -> Celery:
    """Set the shared app up for ``url``: JSON only, late acknowledgement, requeue on a lost worker."""
    app.conf.update(
        broker_url=url, result_backend=url,
        task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"],
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        # A piece left unacknowledged longer than this (its worker's machine died) is queued again;
        # kombu looks for such pieces every unacked_restore_interval x throttle seconds.
        broker_transport_options={"visibility_timeout": visibility_timeout, "unacked_restore_throttle": 1,
                                  "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 4))},
        broker_connection_retry_on_startup=True,
        result_backend_always_retry=True, result_expires=7 * 86400, task_track_started=True,
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
    running = {node: [t.get("kwargsrepr") or t.get("id") for t in tasks] for node, tasks in active.items()}
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        queued = {key.decode(): client.llen(key) for key in client.scan_iter(match="asr-*", _type="list")}
    return running, queued


# The wire format of a piece's audio ------------------------------------------------------------

def _ffmpeg(stream, data: bytes) -> bytes:
    out, _ = (stream.global_args("-hide_banner", "-loglevel", "error")
              .run(input=data, capture_stdout=True, capture_stderr=True, cmd=media.ffmpeg_binary()))
    return out


def to_flac(audio: np.ndarray) -> bytes:
    """16 kHz mono float32 audio (from 16-bit PCM) as FLAC: lossless, about half the size."""
    pcm = np.round(audio * 32768.0).clip(-32768, 32767).astype("<i2").tobytes()
    return _ffmpeg(ffmpeg.input("pipe:", format="s16le", ac=1, ar=media.SAMPLE_RATE)
                   .output("pipe:", format="flac"), pcm)


def from_flac(data: bytes) -> np.ndarray:
    pcm = _ffmpeg(ffmpeg.input("pipe:", format="flac")
                  .output("pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=media.SAMPLE_RATE), data)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


# The coordinator ---------------------------------------------------------------------------------

@dataclass
class RemoteModel:
    """Stands in for a loaded engine on the coordinator: the workers load the model itself."""

    name: str  # the engine
    sha256: str


def task_id(interview_id: str, n: int, resume_key: str) -> str:
    return str(uuid.uuid5(_IDS, json.dumps([interview_id, n, resume_key])))


def _key_digest(resume_key: str) -> str:
    return hashlib.sha256(resume_key.encode()).hexdigest()[:16]


def dispatcher(settings: Settings, store: Store, job: Job):
    """A drop-in for :func:`pipeline.asr.transcribe_file` that has workers decode the pieces."""
    configure(settings.broker, settings.visibility_timeout)

    def transcribe_file(model: RemoteModel, wav: Path, language, *, resume_dir: Path, resume_key: str,
                        progress=None, chunk_seconds: float = 600, **options) -> asr.Recognition:
        return _Run(store, job, model, resume_dir, resume_key, options, progress).transcribe(
            wav, language, chunk_seconds)

    return transcribe_file


class _Run:
    """One job's pieces: send those without a result, collect, save each once."""

    def __init__(self, store: Store, job: Job, model: RemoteModel, resume_dir: Path, resume_key: str,
                 options: dict, progress):
        self.store, self.job, self.model, self.options = store, job, model, options
        self.resume_dir, self.key, self.progress = resume_dir, resume_key, progress
        self.queue = queue_for(model.sha256)
        self.states: dict[int, dict] = {}
        self.out: dict[int, str] = {}  # piece -> task ID
        self.seconds: dict[int, float] = {}
        self.recorded = {json.loads(e["detail"]).get("piece") for e in store.events(job.interview_id)
                         if e["kind"] == "piece" and json.loads(e["detail"]).get("key") == _key_digest(resume_key)}
        self.stage, self.next_check = None, 0.0

    def transcribe(self, wav: Path, language, chunk_seconds: float) -> asr.Recognition:
        self.total = max(media.wav_seconds(wav), 1e-6)
        self.resume_dir.mkdir(parents=True, exist_ok=True)
        offsets = []
        for n, (offset, audio) in enumerate(media.wav_chunks(wav, chunk_seconds)):
            offsets.append(offset)
            self.seconds[n] = len(audio) / media.SAMPLE_RATE
            state = asr.saved_piece(self.resume_dir, n, self.key, language)
            if state is not None:
                self._record(n, state)
            else:
                self._send(n, audio, language)
                if language is None:  # later pieces are decoded in the language the first one found
                    self._collect(until_done=n)
            language = language or self.states.get(n, {}).get("language")
        self._collect()
        if self.progress:
            self.progress(1.0)
        for tid in self.out.values():  # no transcript text stays on the broker
            self._patiently(lambda t=tid: app.AsyncResult(t).forget())
        pieces = [(offsets[n], self.states[n]) for n in range(len(offsets))]
        return asr.assemble(wav, pieces, language, tuple(self.options.get("native", asr.DETECTABLE)))

    def _send(self, n: int, audio: np.ndarray, language) -> None:
        tid = task_id(self.job.interview_id, n, self.key)
        self.out[n] = tid
        done = self._patiently(lambda: app.AsyncResult(tid).state)
        if done == "SUCCESS":  # finished while this coordinator was down
            log.info("piece %d of %s finished while the coordinator was away", n, self.job.interview_id)
            return
        if done == "FAILURE":
            self._patiently(lambda: app.AsyncResult(tid).forget())
        options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.options.items()}
        piece = {"interview_id": self.job.interview_id, "piece": n, "resume_key": self.key,
                 "engine": self.model.name, "model_sha256": self.model.sha256, "language": language,
                 "options": options, "audio_flac": base64.b64encode(to_flac(audio)).decode("ascii")}
        shown = f"{self.job.interview_id} piece {n}"
        self._patiently(lambda: app.send_task(TASK, kwargs={"piece": piece}, task_id=tid, queue=self.queue,
                                              argsrepr="()", kwargsrepr=shown))
        log.info("sent %s (%.1f s of audio) to %s", shown, len(audio) / media.SAMPLE_RATE, self.queue)

    def _collect(self, until_done: int | None = None) -> None:
        while any(n not in self.states for n in ([until_done] if until_done is not None else self.out)):
            for n, tid in list(self.out.items()):
                if n in self.states:
                    continue
                result = app.AsyncResult(tid)
                state = self._patiently(lambda: result.state)
                if state == "SUCCESS":
                    self._save(n, self._patiently(lambda: result.result))
                elif state == "FAILURE":
                    raise RuntimeError(f"piece {n} of {self.job.interview_id} failed on a worker: {result.result!r}")
            self._watch_workers()
            time.sleep(POLL_S)

    def _save(self, n: int, state: dict) -> None:
        """Store a piece's result once, however many times it came back."""
        if state.get("key") != self.key:
            raise RuntimeError(f"piece {n} of {self.job.interview_id} came back for other settings")
        if asr.saved_piece(self.resume_dir, n, self.key, None) is None:
            write_atomic(asr.piece_path(self.resume_dir, n), json.dumps(state, ensure_ascii=False))
        self._record(n, state)
        if self.progress:
            self.progress(sum(self.seconds[i] for i in self.states) / self.total)

    def _record(self, n: int, state: dict) -> None:
        self.states[n] = state
        if n in self.recorded or "worker" not in state:
            return
        self.store.event("piece", sha256=self.job.sha256, interview_id=self.job.interview_id, piece=n,
                         key=_key_digest(self.key), **state["worker"])
        self.recorded.add(n)

    def _watch_workers(self) -> None:
        """Say "waiting for a worker" while no connected worker holds the model."""
        if time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + WORKER_CHECK_S
        serving = [node for node, queues in self._patiently(workers).items() if self.queue in queues]
        stage = "transcribe" if serving else "waiting for a worker"
        if stage != self.stage:
            self.stage = stage
            self.store.update(self.job.id, stage=stage)
            if not serving:
                log.warning("%s: no connected worker holds model %s; waiting for one",
                            self.job.interview_id, self.model.sha256)

    def _patiently(self, call):
        """Run a broker call, waiting out a broker that is restarting (nothing is given up)."""
        from kombu.exceptions import OperationalError
        from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeout

        warned = False
        while True:
            try:
                return call()
            except (OperationalError, RedisConnectionError, RedisTimeout, ConnectionError) as exc:
                if not warned:
                    log.warning("broker unreachable (%s); waiting for it", type(exc).__name__)
                    self.store.update(self.job.id, stage="waiting for the broker")
                    self.stage, warned = "waiting for the broker", True
                time.sleep(2.0)
