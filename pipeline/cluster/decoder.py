"""The decoder, ``testimony worker``: decode the pieces of the models this machine holds.

A worker knows its models by SHA-256 (those under its own ``models/whisper``), listens only to
those models' queues, checks a model file's hash before first use, and refuses, and stops
taking, a piece for a model it does not hold (the piece goes back to the queue for another
worker). It holds no evidence, database or transcript: a piece's audio comes in, its segments
go back, and its log holds IDs and timings only.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from celery.exceptions import Reject

from .. import asr, engines, models
from ..config import Settings
from . import heartbeat
from .broker import TASK, app, from_flac, queue_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Held:
    """A model this worker can decode with."""

    name: str
    engine: str
    path: Path
    sha256: str


def inventory(settings: Settings) -> dict[str, Held]:
    """SHA-256 -> model, for the Whisper models installed (or prepared) under ``models/whisper``."""
    folder = models.whisper_dir(settings)
    held: dict[str, Held] = {}
    for info in models.installed_records(settings):
        name = info["name"]
        if info.get("sha256") and (folder / f"{name}.pt").is_file():
            held[info["sha256"]] = Held(
                name, "openai-whisper", folder / f"{name}.pt", info["sha256"]
            )
        if info.get("ct2_sha256") and (folder / f"{name}-ct2" / "model.bin").is_file():
            held[info["ct2_sha256"]] = Held(
                name, "faster-whisper", folder / f"{name}-ct2", info["ct2_sha256"]
            )
    embedded = folder / f"{models.EMBEDDED_NAME}-ct2"
    if (embedded / "model.bin").is_file() and models.EMBEDDED_CT2_SHA256 not in held:
        held[models.EMBEDDED_CT2_SHA256] = Held(
            models.EMBEDDED_NAME, "faster-whisper", embedded, models.EMBEDDED_CT2_SHA256
        )
    return held


def pick_device(device: str) -> str:
    """``auto``: cuda when torch sees a GPU, else cpu. ``cuda`` without a GPU is refused."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device {device!r}: use auto, cpu or cuda")
    if device == "cpu":
        return device
    # Asked through NVML, so that CUDA is not initialised before the pool's processes fork.
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ValueError(
            "--device cuda, but torch sees no GPU here: check the NVIDIA driver and that torch "
            "is a CUDA build, or use --device cpu"
        )
    return "cpu"


class _State:
    """What a worker process was started with (set by :func:`serve`, inherited by its pool)."""

    held: dict[str, Held] = {}
    device = "cpu"
    threads = 0
    heartbeat_s = 30.0
    compute_type = "auto"
    loaded: dict[str, object] = {}


def serve(
    held: dict[str, Held],
    device: str,
    threads: int,
    concurrency: int,
    name: str | None,
    heartbeat_s: float,
    loglevel: str = "INFO",
    compute_type: str = "auto",
) -> None:
    """Run the Celery worker on the queues of ``held`` until stopped (the app is configured)."""
    _State.held, _State.device, _State.threads, _State.heartbeat_s = (
        held,
        device,
        threads,
        heartbeat_s,
    )
    _State.compute_type = compute_type
    logging.getLogger("celery.app.trace").setLevel(
        logging.ERROR
    )  # its success line repeats the result
    queues = sorted({queue_for(sha) for sha in held})
    node = name or f"testimony-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            "--queues",
            ",".join(queues),
            "--concurrency",
            str(concurrency),
            "--hostname",
            node,
            "--loglevel",
            loglevel,
            "--without-mingle",
            "--without-gossip",
        ]
    )


def _engine(held: Held):
    if held.sha256 not in _State.loaded:
        digest = models.sha256_file(held.path / "model.bin" if held.path.is_dir() else held.path)
        if digest != held.sha256:
            return None
        _State.loaded[held.sha256] = engines.load(
            held.engine, str(held.path), _State.threads, _State.device, _State.compute_type
        )
    return _State.loaded[held.sha256]


def _refuse(task, piece: dict, why: str):
    """Give the piece back for another worker and stop taking this model's queue here."""
    log.error(
        "refusing %s piece %s: %s; it is left for a worker that holds model %s",
        piece["interview_id"],
        piece["piece"],
        why,
        piece["model_sha256"],
    )
    task.app.control.cancel_consumer(
        queue_for(piece["model_sha256"]), destination=[task.request.hostname]
    )
    raise Reject(why, requeue=True)


@app.task(name=TASK, bind=True)
def transcribe_piece(self, piece: dict) -> dict:
    """Decode one piece as the coordinator would have; return what it saves for the piece."""
    beat = heartbeat.for_this_process(
        self.app.conf.broker_url, self.request.hostname, _State.heartbeat_s
    )
    with beat.holding(self.request.id, (self.request.properties or {}).get("delivery_tag")):
        return _decode(self, piece)


def _decode(task, piece: dict) -> dict:
    held = _State.held.get(piece["model_sha256"])
    if held is None or held.engine != piece["engine"]:
        _refuse(
            task,
            piece,
            f"this worker has no {piece['engine']} model with SHA-256 {piece['model_sha256']}",
        )
    engine = _engine(held)
    if engine is None:
        _refuse(task, piece, f"{held.path} no longer has SHA-256 {held.sha256} (changed on disk)")
    started = time.monotonic()
    log.info("decoding %s piece %d", piece["interview_id"], piece["piece"])
    audio = from_flac(base64.b64decode(piece["audio_flac"]))
    options = asr.DecodeOptions.from_json(piece["options"])
    part = asr.transcribe(
        engine, audio, piece["language"], options, initial_prompt=piece["initial_prompt"]
    )
    state = asr.piece_state(part, piece["resume_key"])
    state["worker"] = {
        "worker": task.request.hostname,
        "host": socket.gethostname(),
        "engine": held.engine,
        "device": _State.device,
        "model_sha256": held.sha256,
        "model": held.name,
        "seconds": round(time.monotonic() - started, 2),
    }
    log.info(
        "decoded %s piece %d in %.1f s",
        piece["interview_id"],
        piece["piece"],
        time.monotonic() - started,
    )
    return state
