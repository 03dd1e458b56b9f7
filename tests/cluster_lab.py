"""The cluster tests' harness: a real redis-server on a loopback port, real `testimony`
processes (workers, coordinators), spoken Kazakh "interviews", and readers of what the
coordinator stored. Used by test_cluster.py and test_cluster_broker.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pipeline import config, models
from pipeline.cluster import broker

from builders import tiny_whisper_checkpoint
from conftest import FAST_SETTINGS, ROOT, free_port, wait_until

PASSWORD = "s3cret-test-password"
# Forty tokens a window, not builders' dozen: a piece must take long enough to decode for a test
# to kill its worker, or the broker, while the piece is under way.
SLOW_END = 40
SENTENCES = [
    "Менің ағам қалада тұрады.",
    "Оны түнде алып кетті.",
    "Біз содан бері хабар алмадық.",
    "Ол мұғалім болып істеді.",
    "Балалары үйде күтіп отыр.",
    "Хат жазып көрдік, жауап жоқ.",
    "Көршілер ештеңе айтпайды.",
]


class Redis:
    """redis-server on a free loopback port, persisting every write (appendonly, fsync always)."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_port(), None
        folder.mkdir(parents=True, exist_ok=True)

    def url(self, password: str = PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        self.log = open(self.folder / "redis.out", "ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--requirepass",
                PASSWORD,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, 30, what="redis-server to answer")
        return self

    def _answers(self) -> bool:
        try:
            broker.preflight(self.url())
            return True
        except broker.BrokerError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # a clean shutdown; the append-only file already holds every write
            self.proc.wait(timeout=30)
            self.log.close()


class Proc:
    """A `testimony ...` command as its own process group (killed with everything it started)."""

    def __init__(self, home: Path, args: list[str], log: Path):
        self.log_path = log
        self.out = open(log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", *args],
            cwd=ROOT,
            env={**os.environ, "TESTIMONY_HOME": str(home)},
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=90)
        self.out.close()

    def wait(self, timeout: float = 300) -> int:
        rc = self.proc.wait(timeout=timeout)
        self.out.close()
        return rc


@pytest.fixture
def procs(tmp_path):
    """Start processes that are all killed at the end, whatever happens."""
    started: list[Proc | Redis] = []

    def start(kind, *args, **kwargs):
        proc = kind(*args, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop() if isinstance(proc, Redis) else proc.kill()


def make_home(root: Path, checkpoint: Path, broker: str | None = None) -> Path:
    """A home with the default [cluster] settings (visibility_timeout, heartbeat_seconds)."""
    root.mkdir(parents=True, exist_ok=True)
    text = FAST_SETTINGS + "piece_seconds = 6\nthreads = 1\n"
    if broker:
        text += f'\n[cluster]\nbroker = "{broker}"\n'
    (root / config.SETTINGS_FILE).write_text(text)
    settings = config.load(root)
    settings.ensure_dirs()
    models.add_model(settings, checkpoint, name="tiny")
    return root


@pytest.fixture(scope="module")
def interviews(tmp_path_factory) -> list[Path]:
    """Three spoken Kazakh "interviews" of 7-10 s (two pieces each), with pauses between
    sentences: more pieces would only add decoding time, not cases."""
    folder = tmp_path_factory.mktemp("interviews")
    made = []
    for n, count in enumerate((3, 4, 3)):
        text = "<break time='1200ms'/>".join((SENTENCES[n:] + SENTENCES[:n])[:count])
        path = folder / f"KZ-000{n + 1}_talk{n + 1}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "kk", "-m", "-w", str(path), f"<speak>{text}</speak>"], check=True
        )
        made.append(path)
    return made


def run(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "TESTIMONY_HOME": str(home)},
        timeout=timeout,
    )


def transcripts(home: Path) -> dict[str, dict]:
    found = {}
    for path in (home / "outbox").glob("*/*/transcript.json"):
        data = json.loads(path.read_text())
        found[data["source"]["file"]] = {"language": data["language"], "segments": data["segments"]}
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory, interviews, checkpoint) -> dict[str, dict]:
    """The transcripts of a single-machine run (no broker) with the same model and settings."""
    home = make_home(tmp_path_factory.mktemp("single"), checkpoint)
    result = run(home, "process", *interviews)
    assert result.returncode == 0, result.stdout + result.stderr
    found = transcripts(home)
    assert len(found) == 3 and all(len(t["segments"]) >= 2 for t in found.values())
    return found


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_whisper_checkpoint(
        tmp_path_factory.mktemp("whisper-cluster") / "tiny.pt", end_at=SLOW_END
    )


def pieces(home: Path) -> dict[str, list[dict]]:
    """Custody entries of decoded pieces, per interview."""
    try:  # read-only: never create the coordinator's database before it does
        db = sqlite3.connect(f"file:{home / 'testimony.db'}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT interview_id, detail FROM events WHERE kind='piece' ORDER BY id"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:  # not made yet
        rows = []
    found: dict[str, list[dict]] = {}
    for interview, detail in rows:
        found.setdefault(interview, []).append(json.loads(detail))
    return found


def events(home: Path) -> list[tuple[str, str, dict]]:
    """(kind, interview, detail) of every custody entry, oldest first."""
    db = sqlite3.connect(f"file:{home / 'testimony.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, interview_id, detail FROM events ORDER BY id").fetchall()
    finally:
        db.close()
    return [(kind, iid, json.loads(detail)) for kind, iid, detail in rows]


def assert_each_piece_once(home: Path, expected_interviews: int) -> dict[str, list[dict]]:
    found = pieces(home)
    assert len(found) == expected_interviews
    for interview, entries in found.items():
        numbers = [e["piece"] for e in entries]
        assert sorted(numbers) == list(range(len(numbers))), (
            interview,
            numbers,
        )  # none lost, none twice
        assert len(numbers) >= 2
        for e in entries:
            assert (
                e["host"] == socket.gethostname()
                and e["engine"] == "openai-whisper"
                and e["device"] == "cpu"
            )
            assert len(e["model_sha256"]) == 64
    return found


def decoded(worker: Proc) -> Counter:
    """How many times a worker started decoding each (interview, piece)."""
    found = Counter()
    for line in worker.text().splitlines():
        if "decoding " in line and " piece " in line:
            interview, piece = line.split("decoding ", 1)[1].split(" piece ")
            found[(interview.strip(), int(piece.split()[0]))] += 1
    return found


def start_worker(procs, tmp_path: Path, home: Path, name: str, redis: Redis) -> Proc:
    worker = procs(
        Proc,
        home,
        [
            "worker",
            "--broker",
            redis.url(),
            "--device",
            "auto",
            "--name",
            f"{name}@{socket.gethostname()}",
        ],
        tmp_path / f"{name}.out",
    )
    wait_until(
        lambda: "ready." in worker.text() or worker.proc.poll() is not None,
        120,
        what=f"{name} to start",
    )
    assert worker.proc.poll() is None, worker.text()
    return worker
