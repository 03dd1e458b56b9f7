"""Several machines: a job's audio pieces go out as Celery tasks through Redis, segments come back.

With a broker in the settings (``[cluster] broker`` or ``TESTIMONY_BROKER``), the process that
runs ``watch`` or ``process`` is the *coordinator*: it still takes recordings in, cuts their
audio into pieces and writes the evidence store, the database, the custody log and the outbox;
only the decoding of each piece happens on a ``testimony worker`` (:mod:`pipeline.cluster.decoder`).

- A task carries one piece's audio, compressed losslessly (FLAC), the decoding options and the
  model's SHA-256; never the original video, never a path. Its queue is named after the model
  (``asr-<sha256>``), and a worker listens only to the queues of the models it holds, so a
  piece is never decoded by another model.
- The broker, its checks and the wire format are in :mod:`pipeline.cluster.broker`.
- Task IDs are derived from the interview, the piece number and the resume key, and a result
  is saved where the single-machine run saves its pieces (:func:`pipeline.asr.saved_piece`):
  a piece that comes back twice is stored once, a coordinator restart collects what finished
  meanwhile and sends again only the pieces without a result.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import asr, media
from ..config import Settings
from ..store import Job, Store
from ..transcript import write_atomic
from . import heartbeat
from .broker import TASK, app, configure, queue_for, to_flac, workers

log = logging.getLogger(__name__)

_IDS = uuid.UUID("5b0e3c55-6d1c-4d8e-9a53-0d7f3c1c8a11")  # namespace of the deterministic task IDs
POLL_S = 0.5
WORKER_CHECK_S = 10.0
HEARTBEAT_CHECK_S = 5.0  # how often the holders of the pieces waited for are checked


@dataclass
class RemoteModel:
    """Stands in for a loaded engine on the coordinator: the workers load the model itself."""

    name: str  # the engine
    sha256: str
    compute_type: str  # the setting: each worker resolves "auto" for its own device


def task_id(interview_id: str, n: int, resume_key: str) -> str:
    return str(uuid.uuid5(_IDS, json.dumps([interview_id, n, resume_key])))


def _key_digest(resume_key: str) -> str:
    return hashlib.sha256(resume_key.encode()).hexdigest()[:16]


def dispatcher(settings: Settings, store: Store, job: Job):
    """A drop-in for :func:`pipeline.asr.transcribe_file` that has workers decode the pieces."""
    configure(settings.broker, settings.visibility_timeout)

    def transcribe_file(
        model: RemoteModel,
        wav: Path,
        language,
        *,
        resume_dir: Path,
        resume_key: str,
        progress=None,
        chunk_seconds: float = 600,
        options: asr.DecodeOptions = asr.DecodeOptions(),
        initial_prompt: str | None = None,
    ) -> asr.Recognition:
        run = _Run(store, job, model, resume_dir, resume_key, options, initial_prompt, progress)
        return run.transcribe(wav, language, chunk_seconds)

    return transcribe_file


class _Run:
    """One job's pieces: send those without a result, collect, save each once."""

    def __init__(
        self,
        store: Store,
        job: Job,
        model: RemoteModel,
        resume_dir: Path,
        resume_key: str,
        options: asr.DecodeOptions,
        prompt: str | None,
        progress,
    ):
        self.store, self.job, self.model = store, job, model
        self.options, self.prompt = options, prompt
        self.resume_dir, self.key, self.progress = resume_dir, resume_key, progress
        self.queue = queue_for(model.sha256)
        self.states: dict[int, dict] = {}
        self.out: dict[int, str] = {}  # piece -> task ID
        self.seconds: dict[int, float] = {}
        self.recorded = {
            json.loads(e["detail"]).get("piece")
            for e in store.events(job.interview_id)
            if e["kind"] == "piece"
            and json.loads(e["detail"]).get("key") == _key_digest(resume_key)
        }
        self.stage, self.next_check, self.next_rescue = None, 0.0, 0.0

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
        return asr.assemble(wav, pieces, language, self.options.native)

    def _send(self, n: int, audio: np.ndarray, language) -> None:
        tid = task_id(self.job.interview_id, n, self.key)
        self.out[n] = tid
        done = self._patiently(lambda: app.AsyncResult(tid).state)
        if done == "SUCCESS":  # finished while this coordinator was down
            log.info(
                "piece %d of %s finished while the coordinator was away", n, self.job.interview_id
            )
            return
        if done == "FAILURE":
            self._patiently(lambda: app.AsyncResult(tid).forget())
        piece = {
            "interview_id": self.job.interview_id,
            "piece": n,
            "resume_key": self.key,
            "engine": self.model.name,
            "model_sha256": self.model.sha256,
            "language": language,
            "options": self.options.as_json(),
            "initial_prompt": self.prompt,
            "audio_flac": base64.b64encode(to_flac(audio)).decode("ascii"),
        }
        shown = f"{self.job.interview_id} piece {n}"
        self._patiently(
            lambda: app.send_task(
                TASK,
                kwargs={"piece": piece},
                task_id=tid,
                queue=self.queue,
                argsrepr="()",
                kwargsrepr=shown,
            )
        )
        log.info(
            "sent %s (%.1f s of audio) to %s", shown, len(audio) / media.SAMPLE_RATE, self.queue
        )

    def _collect(self, until_done: int | None = None) -> None:
        while any(
            n not in self.states for n in ([until_done] if until_done is not None else self.out)
        ):
            for n, tid in list(self.out.items()):
                if n in self.states:
                    continue
                result = app.AsyncResult(tid)
                state = self._patiently(lambda: result.state)
                if state == "SUCCESS":
                    self._save(n, self._patiently(lambda: result.result))
                elif state == "FAILURE":
                    raise RuntimeError(
                        f"piece {n} of {self.job.interview_id} failed on a worker: {result.result!r}"
                    )
            self._watch_workers()
            self._rescue()
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
        self.store.event(
            "piece",
            sha256=self.job.sha256,
            interview_id=self.job.interview_id,
            piece=n,
            key=_key_digest(self.key),
            **state["worker"],
        )
        self.recorded.add(n)

    def _watch_workers(self) -> None:
        """Say "waiting for a worker" while no connected worker holds the model."""
        if time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + WORKER_CHECK_S
        serving = [
            node for node, queues in self._patiently(workers).items() if self.queue in queues
        ]
        stage = "transcribe" if serving else "waiting for a worker"
        if stage != self.stage:
            self.stage = stage
            self.store.update(self.job.id, stage=stage)
            if not serving:
                log.warning(
                    "%s: no connected worker holds model %s; waiting for one",
                    self.job.interview_id,
                    self.model.sha256,
                )

    def _rescue(self) -> None:
        """Send again the pieces whose decoder stopped beating (its machine died)."""
        if time.monotonic() < self.next_rescue:
            return
        self.next_rescue = time.monotonic() + HEARTBEAT_CHECK_S
        waiting = {tid: n for n, tid in self.out.items() if n not in self.states}
        for tid, holder in self._patiently(
            lambda: heartbeat.resend_orphans(app, list(waiting))
        ).items():
            log.warning(
                "piece %d of %s sent again: its decoder %s stopped answering",
                waiting[tid],
                self.job.interview_id,
                holder,
            )

    def _patiently(self, call):
        """Run a broker call, waiting out a broker that is restarting (nothing is given up)."""
        from kombu.exceptions import OperationalError
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeout

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
