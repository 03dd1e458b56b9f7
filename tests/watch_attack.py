"""The watcher's review-file scan as the attack on it drove it: a clock that moves with each poll.

Shared by tests/test_found_by_attack_watch.py (saves: timing, restarts, files on disk) and
tests/test_found_by_attack_watch_lines.py (what the reviewer wrote: blocks, speakers, notes).
Each test acts as a reviewer's text editor would on the review file of one interview made by the
real pipeline (tests/review_home.py) and drives the scan directly, one call per poll, so that
every interleaving is exact. Its clock moves on by the default poll interval at each scan.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time as real_time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline import config, transcript, watch
from pipeline.review.textfile import ERRORS_FILE

REPO = Path(__file__).resolve().parents[1]
POLL = config.Settings.poll_seconds  # the default a user gets
SETTLED = 5  # scans after a save that has ended: 10 s at the default poll interval


class Scanner:
    """The watcher's review-file scan, one poll per step, on a clock that moves with it."""

    def __init__(self, settings, monkeypatch):
        self.elapsed = 0.0
        monkeypatch.setattr(
            watch,
            "time",
            SimpleNamespace(
                monotonic=lambda: 10_000.0 + self.elapsed,
                time=lambda: real_time.time() + self.elapsed,
                sleep=real_time.sleep,
            ),
        )
        self.files = watch.ReviewFiles(settings)

    def scan(self, times: int = 1) -> None:
        for _ in range(times):
            with contextlib.suppress(Exception):  # the watcher's scan loop logs it, scans again
                self.files.scan()
            self.elapsed += POLL


def finding(reason: str, raises: type[BaseException] = AssertionError):
    """Marks a test that fails on the code it was written against, for the reason given."""
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"finding: {reason}")


def segments(path: Path) -> list[transcript.Segment]:
    return transcript.load_current(path.parent).segments


def note(path: Path) -> str | None:
    errors = path.parent / ERRORS_FILE
    return errors.read_text() if errors.exists() else None


KILLED_AT = """
import importlib, os, signal, sys
from pathlib import Path
from pipeline import config, watch

module, attribute = sys.argv[2].split(":")
*parents, name = attribute.split(".")
owner = importlib.import_module(module)
for parent in parents:
    owner = getattr(owner, parent)
setattr(owner, name, lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL))
files = watch.ReviewFiles(config.load(Path(sys.argv[1])))
for _ in range(5):
    files.scan()
"""


def killed_watcher(settings, at: str) -> None:
    """A watcher process that scans review files and is SIGKILLed when it calls ``at``."""
    run = subprocess.run(
        [sys.executable, "-c", KILLED_AT, str(settings.home), at],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    )
    assert run.returncode == -9, f"the watcher was to die in {at}"


def edited(text: str, before: str, after: str) -> str:
    assert before in text
    return text.replace(before, after)
