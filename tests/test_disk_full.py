"""The disk filling up mid-job: the job waits, nothing is lost or left corrupt, and it finishes
once space is freed. Runs the home folder on a small tmpfs (needs root, as CI has)."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.store import Store

from builders import ffmpeg
from conftest import KK_CLIP, make_home


@pytest.fixture
def small_home(tmp_path, monkeypatch, tiny_checkpoint):
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=24M", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield make_home(mount, tiny_checkpoint, monkeypatch)
    finally:
        subprocess.run(["umount", "-l", str(mount)])


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A minute of recording whose audio working copy (2 MB) is far larger than the file (the
    speech is short, then silence, which FLAC stores in a few bytes and decoding skips)."""
    path = tmp_path_factory.mktemp("rec") / "KZ-0001_sample-interview.flac"
    ffmpeg("-i", str(KK_CLIP), "-af", "apad=pad_dur=60", "-ar", "16000", "-ac", "1", str(path))
    return path


def fill(folder: Path, leave: int) -> Path:
    filler = folder / "filler.bin"
    free = shutil.disk_usage(folder).free
    with open(filler, "wb") as fh:
        fh.truncate(0)
        fh.write(b"\0" * max(free - leave, 0))
    return filler


def test_disk_full_mid_job_then_freed(small_home, cli, recording):
    # room for the original, not for its audio
    filler = fill(small_home.home, leave=recording.stat().st_size + 700_000)
    result = cli("process", recording, "--language", "kk")
    assert result.exit_code == 1 and "disk" in result.output and "full" in result.output
    store = Store(small_home.database)
    [job] = store.jobs()
    assert job.state == "queued" and "free some space" in job.error
    assert hashlib.sha256(Path(job.evidence_path).read_bytes()).hexdigest() == job.sha256
    assert not (small_home.outbox / "KZ-0001" / job.interview_id / "transcript.json").exists()
    assert "free some space" in cli("status").output

    filler.unlink()
    result = cli("process", recording, "--language", "kk")
    assert result.exit_code == 0, result.output
    done = store.job(job.id)
    store.close()
    assert done.state == "done" and done.attempts == 1
    assert cli("verify").exit_code == 0
    assert (small_home.outbox / "KZ-0001" / job.interview_id / "transcript.json").exists()
    assert not [p for p in small_home.home.rglob("*.tmp")] and not list(
        small_home.evidence.glob(".incoming-*")
    )
    assert os.listdir(small_home.work) == []
