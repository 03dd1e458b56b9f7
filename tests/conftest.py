import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

# pytest-xdist runs one test process per core (pyproject.toml), each with the processes its tests
# start: one thread each, or their OpenMP and numba pools fight over the cores (3-10x slower).
# Set before torch, numba or CTranslate2 is imported, which read these once.
for _pool in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from pipeline import config, models  # noqa: E402
from pipeline.cli import app  # noqa: E402
from pipeline.review.running import make_server  # noqa: E402

from builders import tiny_argos_package, tiny_whisper_checkpoint, video_with_audio  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Evaluation data for benchmarks; tests marked `evaldata` skip without it (it may not ship).
EVALDATA = Path(os.environ.get("TESTIMONY_EVALDATA", ROOT.parent / "shared" / "evaldata"))
SAMPLE = ROOT / "samples" / "KZ-0001_sample-interview.mp4"
# Real Kazakh interview speech shipped with the tests (CC BY, see tests/data/kk/ATTRIBUTION.md).
KK_CLIPS = ROOT / "tests" / "data" / "kk"
KK_CLIP = KK_CLIPS / "kzaudio_19.flac"  # 4.9 s of interview speech

# [asr] comes last: tests append keys to it.
FAST_SETTINGS = """
[intake]
settle_seconds = 0.6
poll_seconds = 0.2

[speakers]
# Speaker turns cost a second model per process; tests/test_speakers.py turns them on.
enabled = false

[asr]
model = "tiny"
# Plumbing tests decode with the reference engine; faster-whisper has its own tests
# (test_asr_engines.py, test_models_import.py) and is the default in test_real_model.py.
engine = "openai-whisper"
# The random-weight test model always "fails" whisper's quality checks; sampling its noise at
# higher temperatures can hit all-masked logits. Greedy decoding keeps plumbing tests exact.
temperature_fallback = false
# Beam search (the default for Russian) multiplies the test model's decoding work by five, which
# made watcher tests miss their deadline on a loaded machine. Decoding choices are measured in
# bench/, not here.
beam_size = 1
"""

# How long a test waits for a condition before it fails. Only a failing test ever waits this long;
# a 2-core machine shared with other work can be ten times slower than an idle one.
DEADLINE = 600


def free_port() -> int:
    """A loopback port nothing listens on (the socket is closed again on return)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(config, items):
    if not EVALDATA.is_dir():
        for item in items:
            for mark in item.iter_markers("evaldata"):
                why = mark.kwargs.get("reason", "needs the evaluation data")
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"{why}; evaluation data not found at {EVALDATA} "
                        "(set TESTIMONY_EVALDATA)"
                    )
                )
                break


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return tiny_whisper_checkpoint(tmp_path_factory.mktemp("whisper") / "tiny.pt")


@pytest.fixture(scope="session")
def argos_ru(tmp_path_factory) -> Path:
    return tiny_argos_package(tmp_path_factory.mktemp("argos"), "ru", "en")


@pytest.fixture(scope="session")
def speech_video(tmp_path_factory) -> Path:
    """A short MP4 with real Kazakh interview speech."""
    return video_with_audio(tmp_path_factory.mktemp("media") / "clip.mp4", KK_CLIP)


def make_home(root: Path, checkpoint: Path, monkeypatch) -> config.Settings:
    """A home folder at ``root`` with fast intake timings and the tiny Whisper model installed."""
    root.mkdir(exist_ok=True)
    (root / config.SETTINGS_FILE).write_text(FAST_SETTINGS)
    monkeypatch.setenv("TESTIMONY_HOME", str(root))
    settings = config.load(root)
    settings.ensure_dirs()
    models.add_model(settings, checkpoint)
    return settings


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_checkpoint) -> config.Settings:
    return make_home(tmp_path / "home", tiny_checkpoint, monkeypatch)


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


class Watcher:
    """A real `testimony watch` process on a home folder."""

    def __init__(self, home: Path):
        self.home = home
        self.proc = None

    def start(self) -> "Watcher":
        env = {**os.environ, "TESTIMONY_HOME": str(self.home)}
        self.log = open(self.home / "watch.out", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "watch"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        return self

    def output(self) -> str:
        return (self.home / "watch.out").read_text(errors="replace")

    def stop(self, sig=None) -> int:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            self.proc.wait(timeout=DEADLINE)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def watcher(home):
    started = []

    def start() -> Watcher:
        w = Watcher(home.home).start()
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def wait_until(
    predicate, timeout: float = DEADLINE, interval: float = 0.2, what: str = "condition"
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def drop(source: Path, folder: Path, name: str | None = None) -> Path:
    """Copy into a watched folder the way a person would: under a temp name, then renamed."""
    target = folder / (name or source.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    partial.rename(target)
    return target


@pytest.fixture
def review_server():
    """Start the review page (uvicorn in a thread) on a free loopback port: ``review_server(settings, **options)``."""
    started = []

    def start(settings, **options):
        server = make_server(settings, "127.0.0.1", 0, **options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
