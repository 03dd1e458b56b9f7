"""Findings of an outside attack on `testimony retranscribe` (branch attackarchive).

Each test fails on the code it was written against. One finished interview (the first eight
seconds of the bundled sample, processed once for the module in a temporary home with the tiny
test model: the words are not the point) is shared; the tests that
change its state put it back. Loopback only; nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "KZ-0001_sample-interview.mp4"


def cli(home: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "TESTIMONY_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("TESTIMONY_BROKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_checkpoint) -> Path:
    from pipeline import config, models

    from builders import ffmpeg
    from conftest import FAST_SETTINGS

    h = tmp_path_factory.mktemp("attackarchive")
    (h / config.SETTINGS_FILE).write_text(FAST_SETTINGS)
    settings = config.load(h)
    settings.ensure_dirs()
    models.add_model(settings, tiny_checkpoint)
    recording = tmp_path_factory.mktemp("recording") / SAMPLE.name
    ffmpeg("-i", str(SAMPLE), "-t", "8", "-c", "copy", str(recording))
    done = cli(h, "process", str(recording), "--language", "kk")
    assert done.returncode == 0, done.stdout + done.stderr
    return h


@pytest.fixture(scope="module")
def interview(home) -> str:
    """The ID of the module's one interview."""
    settings, store = _store(home)
    try:
        [job] = store.jobs()
        return job.interview_id
    finally:
        store.close()


def _store(home: Path):
    from pipeline import config
    from pipeline.store import Store

    settings = config.load(home)
    return settings, Store(settings.database)


def test_retranscribe_after_a_killed_run_is_not_refused_as_running(home, interview):
    """A `testimony retranscribe` killed with SIGKILL leaves its job 'running' under a dead
    process. Running the command again refuses it ("not finished (running); `testimony retry`
    is for failed ones") and `testimony retry` answers "names 0 failed interviews": outside a
    watcher, nothing ever picks it up again, and `testimony status` shows it running forever.
    Only `watch` calls requeue_orphans. Expected: a job whose owner process is dead on this
    machine is not treated as running (put back / chosen)."""
    settings, store = _store(home)
    job = store.find_jobs(interview)[0]
    assert job.state == "done"
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.update(job.id, state="running", owner=f"{socket.gethostname()}:{dead.pid}")
    try:
        again = cli(home, "retranscribe", interview, "--dry-run", timeout=120)
        out = again.stdout + again.stderr
        retry = cli(home, "retry", interview, timeout=120)
        assert "not finished (running)" not in out or retry.returncode == 0, (
            "a killed run's interview can be neither transcribed again nor retried:\n"
            + out
            + retry.stdout
            + retry.stderr
        )
    finally:
        store.update(job.id, state="done", owner=None)
        store.close()


def test_request_does_not_take_back_a_job_another_process_is_running(home, interview):
    """Two `testimony retranscribe X` at once: both choose X while it is 'done'; the first
    requests and claims it (running); the second's request() then sets it back to 'queued'
    unconditionally (attempts 0), so its claim succeeds too and two processes transcribe and
    write the same interview at once, with two 'retranscribe requested' custody entries.
    Expected: the request only applies to a job still 'done' (compare-and-set), refusing
    otherwise."""
    from pipeline import retranscribe as again

    settings, store = _store(home)
    try:
        first = again.choose(settings, store, [interview], None, False)
        second = again.choose(settings, store, [interview], None, False)
        assert not first[0].reason and not second[0].reason
        again.request(store, first[0].job, None, None)
        running = store.claim(first[0].job.id)
        assert running is not None and running.state == "running"
        try:
            again.request(store, second[0].job, None, None)
        except again.RetranscribeError:
            pass
        assert store.job(first[0].job.id).state == "running", (
            "a second request put a running job back in the queue: "
            + store.job(first[0].job.id).state
        )
        assert store.claim(first[0].job.id) is None, "the same job was claimed twice"
    finally:
        from pipeline.runner import RETRANSCRIBE

        job = store.find_jobs(interview)[0]
        meta = {k: v for k, v in job.meta.items() if k != RETRANSCRIBE}
        store.update(job.id, state="done", owner=None, progress=1.0, meta=meta)
        store.close()


def test_retranscribe_in_another_language_leaves_no_stale_subtitles_in_the_outbox(home, interview):
    """`testimony retranscribe X --language ru` on an interview first made in kk writes
    transcript.ru.srt/.vtt but leaves transcript.kk.srt/.vtt, with the replaced machine text,
    beside them in outbox/CASE/INTERVIEW/ (not in versions/N either). Anyone taking the
    subtitles from the outbox gets the old transcript as if current. Expected: the outbox holds
    only the new transcript's files (the old ones moved into versions/N, or removed)."""
    folder = home / "outbox" / "KZ-0001" / interview
    assert (folder / "transcript.kk.srt").exists()
    run = cli(home, "retranscribe", interview, "--language", "ru")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (folder / "transcript.ru.srt").exists()
    current = json.loads((folder / "transcript.json").read_text())
    language = current.get("language")
    stale = sorted(p.name for p in folder.glob("transcript.*.srt")) + sorted(
        p.name for p in folder.glob("transcript.*.vtt")
    )
    assert all(".ru." in name for name in stale), (
        f"outbox still holds subtitles of the replaced transcript (now {language}): {stale}"
    )
