"""The fault trials' laboratory (bench/faults.py): throw-away home folders with the tiny models,
`testimony` processes started and stopped as a service manager would, and the audit of a home
after a trial (originals lost or altered, outputs left corrupt)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pipeline import config, models, transcript  # noqa: E402
from pipeline.store import Store  # noqa: E402

from builders import ffmpeg, tiny_argos_package, tiny_whisper_checkpoint  # noqa: E402

EVALDATA = Path(os.environ.get("TESTIMONY_EVALDATA", ROOT.parent / "shared" / "evaldata"))
# The 18 evaluation clips when they are beside the repository, else the 8 that ship with the tests.
CLIPS = sorted((EVALDATA / "kk" / "kaz_codeswitch").glob("kzaudio_*.wav")) or sorted(
    (ROOT / "tests" / "data" / "kk").glob("kzaudio_*.flac")
)
SETTINGS = """
[intake]
settle_seconds = 0.5
poll_seconds = 0.1

[asr]
model = "tiny"
temperature_fallback = false
"""


STUCK: list[int] = []  # watchers that did not stop on SIGTERM


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Lab:
    """Shared artefacts: the tiny models, built once."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.checkpoint = tiny_whisper_checkpoint(scratch / "tiny.pt")
        self.argos = tiny_argos_package(scratch / "argos", "kk", "en", languages=["kk", "ru"])

    def home(self, root: Path | None = None) -> config.Settings:
        root = root or Path(tempfile.mkdtemp(dir=self.scratch, prefix="home-"))
        (root / config.SETTINGS_FILE).write_text(SETTINGS)
        settings = config.load(root)
        settings.ensure_dirs()
        models.add_model(settings, self.checkpoint)
        models.add_model(settings, self.argos)
        return settings


def testimony(home: config.Settings, *args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "TESTIMONY_HOME": str(home.home)}
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kw,
    )


def peak_rss(home: config.Settings, *args: str) -> tuple[int, int]:
    """(peak resident KiB, exit code) of one `testimony` run, measured by a wrapper of its own."""
    wrapper = (
        "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc)"
    )
    env = {**os.environ, "TESTIMONY_HOME": str(home.home)}
    out = subprocess.run(
        [sys.executable, "-c", wrapper, sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[-2]), int(out[-1])


def jobs(home: config.Settings) -> list:
    store = Store(home.database)
    try:
        return store.jobs()
    finally:
        store.close()


def processed_counts(home: config.Settings) -> Counter:
    store = Store(home.database)
    try:
        return Counter(e["interview_id"] for e in store.events() if e["kind"] == "processed")
    finally:
        store.close()


def settle_all(home: config.Settings, expected: int, timeout: float) -> bool:
    """Run a watcher until `expected` jobs are done or failed; True if they all got there."""
    watcher = testimony(home, "watch")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            current = jobs(home) if home.database.exists() else []
            if len(current) >= expected and all(j.state in ("done", "failed") for j in current):
                return True
            time.sleep(0.3)
        return False
    finally:
        stop(watcher)


def stop(watcher: subprocess.Popen) -> bool:
    """SIGTERM, as a service manager would; True if the watcher stopped within 30 s."""
    watcher.terminate()
    try:
        watcher.wait(30)
        return True
    except subprocess.TimeoutExpired:
        watcher.kill()
        watcher.wait()
        STUCK.append(watcher.pid)
        return False


def audit(home: config.Settings, dropped: dict[str, bytes]) -> tuple[int, int, list[str]]:
    """(originals lost or altered, outputs corrupt, problems) for a home after its trial."""
    problems: list[str] = []
    lost = 0
    known = {j.sha256: j for j in jobs(home)}
    for name, digest in dropped.items():
        job = known.get(digest)
        if job is None:
            lost += 1
            problems.append(f"{name}: no job for its hash")
        elif sha(Path(job.evidence_path)) != digest:
            lost += 1
            problems.append(f"{name}: evidence copy differs")
    corrupt = 0
    for job in known.values():
        out = home.outbox / (job.case_id or "") / job.interview_id
        if job.state != "done":
            continue
        try:
            t = transcript.load(out / "transcript.json")
            json.loads((out / "provenance.json").read_text())
            for name in (
                f"transcript.{t.language}.srt",
                f"transcript.{t.language}.vtt",
                "transcript.en.srt",
            ):
                if not (out / name).read_text():
                    raise ValueError(f"{name} empty")
        except Exception as exc:  # any unreadable output counts
            corrupt += 1
            problems.append(f"{job.interview_id}: {exc}")
    leftovers = [
        p for p in home.outbox.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name
    ]
    if leftovers:
        corrupt += len(leftovers)
        problems.append(f"left behind: {leftovers[:3]}")
    return lost, corrupt, problems


def make_inputs(folder: Path, count: int, seconds: float = 3.0) -> list[Path]:
    """Distinct recordings: real Kazakh speech clips, each with a different start."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        clip = CLIPS[n % len(CLIPS)]
        path = folder / f"KZ-{n + 1:04d}_clip.m4a"
        ffmpeg(
            "-ss",
            f"{0.05 * (n // len(CLIPS))}",
            "-i",
            str(clip),
            "-t",
            str(seconds),
            "-ac",
            "1",
            "-c:a",
            "aac",
            str(path),
        )
        paths.append(path)
    return paths


def first_to_exit(procs: list[subprocess.Popen], timeout: float) -> subprocess.Popen | None:
    """The first of ``procs`` to exit within ``timeout`` seconds, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                return proc
        time.sleep(0.1)
    return None
