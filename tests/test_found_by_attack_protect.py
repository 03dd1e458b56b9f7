"""Findings of the attack on witness protection in exports (--protect, sidecar protect = [...]).

Self-contained: a temporary home, six seconds of the bundled sample, the embedded Whisper model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builders import ffmpeg, sound_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "KZ-0001_sample-interview.mp4"


def _cli(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TESTIMONY_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=home,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    """A protected interview (sidecar protect = ["names"]) with one spoken word withheld."""
    home = tmp_path_factory.mktemp("home")
    rec = home / "KZ-0009_names.mp4"
    ffmpeg("-i", str(SAMPLE), "-t", "6", "-c", "copy", str(rec))
    (home / "KZ-0009_names.mp4.toml").write_text('case_id = "KZ-0009"\nprotect = ["names"]\n')
    r = _cli(home, "process", str(rec), "--language", "kk")
    assert r.returncode == 0, r.stdout + r.stderr
    folder = next((home / "outbox" / "KZ-0009").iterdir())
    transcript = json.loads((folder / "transcript.json").read_text())
    # A clear, well-timed word: the mute is then exactly word +/- 0.15 s.
    word = next(
        w
        for s in transcript["segments"]
        for w in s.get("words", [])
        if len(w["text"].strip(" ,.!?")) >= 4
        and w["probability"] >= 0.5
        and w["end"] - w["start"] >= 0.2
    )
    term = word["text"].strip(" ,.!?")
    r = _cli(home, "withhold", folder.name, "-", stdin=term + "\n")
    assert r.returncode == 0, r.stdout + r.stderr
    reviewed = folder / "reviewed.json"
    data = json.loads(reviewed.read_text())
    for seg in data["segments"]:
        seg["english"] = f"Segment {seg['id']} in English."
    reviewed.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    r = _cli(home, "keys", "init", "--org", "TestOrg")
    assert r.returncode == 0, r.stdout + r.stderr
    return home, folder.name, rec, word


def test_protect_names_export_of_protected_interview_does_not_crash(protected):
    """--protect names (which the sidecar demands) on an interview with a withheld spoken name
    ended in a traceback: AttributeError: 'TermPattern' object has no attribute 'finditer'
    (pipeline/export/protect.py). So no protected video of such an interview can be made at all."""
    home, iid, _, _ = protected
    r = _cli(
        home,
        "export",
        iid,
        "--allow-unreviewed",
        "--format",
        "mp4",
        "--protect",
        "names",
        "-o",
        str(home / "out_names"),
    )
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "AttributeError" not in out, out[-1500:]
    assert r.returncode == 0, out[-1500:]
    assert list((home / "out_names").rglob("*.mp4"))


def test_protect_names_mutes_the_withheld_word(protected):
    """The withheld word must be silent in the exported sound at the recognizer's times."""
    home, iid, rec, word = protected
    out_dir = home / "out_mute"
    r = _cli(
        home,
        "export",
        iid,
        "--allow-unreviewed",
        "--format",
        "mp4",
        "--protect",
        "names",
        "-o",
        str(out_dir),
    )
    assert r.returncode == 0, (r.stdout + r.stderr)[-1500:]
    video = next(out_dir.rglob("*.mp4"))
    orig, exported = sound_of(rec), sound_of(video)
    a, b = int(word["start"] * 16000), int(word["end"] * 16000)

    def rms(x):
        return float(np.sqrt(np.mean(x[a:b] ** 2)))

    assert rms(orig) > 0.01  # the word is audible in the recording
    assert rms(exported) < 0.05 * rms(orig), (rms(orig), rms(exported))


def test_very_short_protected_recording_gives_a_clear_outcome(tmp_path):
    """A 0.4 s protected recording failed intake with "internal error (AxisError)" from the
    speaker step (pipeline/speakers.py _unit: numpy norm over axis 1 of a 1-D array), so it
    could never be exported; it should be processed (or refused with a plain reason)."""
    home = tmp_path
    rec = home / "KZ-0010_short.mp4"
    ffmpeg("-i", str(SAMPLE), "-t", "0.4", str(rec))
    (home / "KZ-0010_short.mp4.toml").write_text(
        'case_id = "KZ-0010"\nprotect = ["voice", "faces"]\n'
    )
    r = _cli(home, "process", str(rec), "--language", "kk")
    out = r.stdout + r.stderr
    assert "internal error" not in out and "AxisError" not in out, out[-1500:]
