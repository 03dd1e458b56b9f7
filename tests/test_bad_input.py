"""Malformed input, each answered with a clear message while the original stays untouched.

Every case drops files into the inbox, runs the watcher's own intake pass and worker, and
checks the outcome: left in place with a reason beside it, or taken into the evidence store
(hash identical to what was dropped) and failed with a reason in `status` and FAILED.txt.
"""

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline import intake, media
from pipeline.runner import JobRunner
from pipeline.store import Store
from pipeline.watch import scan_once

from builders import ffmpeg, video_without_audio


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_wav(path: Path, seconds: float) -> Path:
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", str(seconds), str(path)
    )
    return path


# name -> (build(inbox, speech_video, tmp) -> dropped media path, outcome, message pattern)
def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _with_sidecar(sidecar_name: str, content: bytes):
    def build(inbox, video, tmp):
        media = _write(inbox / "interview.mp4", video.read_bytes())
        _write(inbox / sidecar_name, content)
        return media

    return build


RANDOM = os.urandom(40_000)
NOT_MEDIA = "is not a recording: it is "
INCOMPLETE = "is incomplete or damaged .* Copy it again"


def unknown_codec_mkv(tmp: Path) -> bytes:
    """A Matroska file whose audio track names a codec no ffmpeg has ("A_ZZZ/INT/LIT")."""
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:sample_rate=16000",
        "-t",
        "1",
        "-c:a",
        "pcm_s16le",
        str(tmp / "pcm.mkv"),
    )
    data = (tmp / "pcm.mkv").read_bytes()
    assert data.count(b"A_PCM/INT/LIT") == 1
    return data.replace(b"A_PCM/INT/LIT", b"A_ZZZ/INT/LIT")


CASES = {
    "zero bytes": (lambda i, v, t: _write(i / "KZ-1_empty.mp4", b""), "rejected", "empty"),
    "random bytes named mp4": (
        lambda i, v, t: _write(i / "KZ-1_noise.mp4", RANDOM),
        "failed",
        NOT_MEDIA + "data of no",
    ),
    "random bytes named webm": (
        lambda i, v, t: _write(i / "KZ-1_noise.webm", RANDOM),
        "failed",
        NOT_MEDIA + "data of no",
    ),
    "random bytes named mp3": (
        lambda i, v, t: _write(i / "KZ-1_noise.mp3", RANDOM),
        "failed",
        NOT_MEDIA + "data of no",
    ),
    "text named mp4": (
        lambda i, v, t: _write(i / "KZ-0778_notes.mp4", "Заметки: брат, 2017\n".encode() * 300),
        "failed",
        NOT_MEDIA + r"a text file with a \.mp4 name",
    ),
    "truncated mp4 (a third)": (
        lambda i, v, t: _write(i / "KZ-1_cut.mp4", v.read_bytes()[: v.stat().st_size // 3]),
        "failed",
        INCOMPLETE,
    ),
    "truncated mp4 (100 bytes)": (
        lambda i, v, t: _write(i / "KZ-1_stub.mp4", v.read_bytes()[:100]),
        "failed",
        INCOMPLETE,
    ),
    "unsupported codec": (
        lambda i, v, t: _write(i / "KZ-1_odd.mkv", unknown_codec_mkv(t)),
        "failed",
        r"format \(codec\) this tool's ffmpeg cannot decode\. Convert it",
    ),
    "text named wav": (
        lambda i, v, t: _write(i / "KZ-1_notes.wav", "мой брат\n".encode() * 100),
        "failed",
        NOT_MEDIA + r"a text file with a \.wav name",
    ),
    "png named mp4": (
        lambda i, v, t: _write(i / "KZ-1_photo.mp4", b"\x89PNG\r\n\x1a\n" + RANDOM[:2000]),
        "failed",
        NOT_MEDIA + r"a PNG file \(image/png\)",
    ),
    "video without audio": (
        lambda i, v, t: shutil.copy(video_without_audio(t / "film.mp4"), i / "KZ-1_film.mp4"),
        "failed",
        "no audio track",
    ),
    "zero-length audio": (
        lambda i, v, t: _write(i / "KZ-1_blank.wav", tiny_wav(t / "z.wav", 0.01).read_bytes()),
        "failed",
        "no sound|zero length|not a readable",
    ),
    "wav header only": (
        lambda i, v, t: _write(i / "KZ-1_header.wav", tiny_wav(t / "h.wav", 1).read_bytes()[:44]),
        "failed",
        "no sound|zero length|not a readable|incomplete",
    ),
    "word document": (
        lambda i, v, t: _write(i / "statement.docx", b"PK\x03\x04" + RANDOM[:500]),
        "rejected",
        "Not a recording",
    ),
    "no extension": (lambda i, v, t: _write(i / "README", b"hello"), "rejected", "Not a recording"),
    "executable": (
        lambda i, v, t: _write(i / "setup.exe", b"MZ" + RANDOM[:100]),
        "rejected",
        "Not a recording",
    ),
    "sidecar not TOML": (
        _with_sidecar("interview.mp4.toml", b"case_id = "),
        "rejected",
        "not valid TOML",
    ),
    "sidecar not JSON": (
        _with_sidecar("interview.json", b"{case_id: KZ-1"),
        "rejected",
        "not valid JSON",
    ),
    "sidecar path-like case": (
        _with_sidecar("interview.toml", b'case_id = "../../etc"'),
        "rejected",
        "does not match",
    ),
    "sidecar empty case": (
        _with_sidecar("interview.toml", b'case_id = ""'),
        "rejected",
        "does not match",
    ),
    "sidecar numeric case": (
        _with_sidecar("interview.json", b'{"case_id": 42}'),
        "rejected",
        "does not match",
    ),
    "sidecar unknown language": (
        _with_sidecar("interview.toml", b'case_id = "KZ-1"\nlanguage = "uz"'),
        "rejected",
        "not one of",
    ),
    "sidecar names not a list": (
        _with_sidecar("interview.toml", 'case_id = "KZ-1"\nnames = "Ерлан"'.encode()),
        "rejected",
        "names must be a list",
    ),
    "sidecar not UTF-8": (
        _with_sidecar("interview.toml", b'case_id = "\xff\xfe"'),
        "rejected",
        "not valid TOML",
    ),
    "sidecar JSON array": (
        _with_sidecar("interview.json", b'["KZ-1"]'),
        "rejected",
        "must hold a table",
    ),
    "sidecar unknown key": (
        _with_sidecar("interview.toml", b'case = "KZ-1"'),
        "rejected",
        "unknown keys",
    ),
    "symlink outside the inbox": (
        lambda i, v, t: (i / "KZ-1_link.mp4").symlink_to(v) or i / "KZ-1_link.mp4",
        "rejected",
        "Links are not taken",
    ),
    "symlink to a system file": (
        lambda i, v, t: (i / "KZ-1_pw.mp4").symlink_to("/etc/passwd") or i / "KZ-1_pw.mp4",
        "rejected",
        "Links are not taken",
    ),
    "named pipe": (
        lambda i, v, t: os.mkfifo(i / "KZ-1_pipe.mp4") or i / "KZ-1_pipe.mp4",
        "rejected",
        "Not a regular file",
    ),
    "case folder that is not a case": (
        lambda i, v, t: _write(i / "KZ-1 ; rm -rf" / "a.mp4", v.read_bytes()),
        "needs_case",
        None,
    ),
    "absurdly long name": (
        lambda i, v, t: _write(i / ("KZ-1_" + "ө" * 120 + ".mp4"), v.read_bytes()),
        "done",
        None,
    ),
    "non-UTF-8 name": (
        lambda i, v, t: _write(Path(os.fsdecode(bytes(i) + b"/KZ-1_\xff\xfe.mp4")), v.read_bytes()),
        "done",
        None,
    ),
    "upper-case extension": (
        lambda i, v, t: _write(i / "KZ-1_LOUD.MP4", v.read_bytes()),
        "done",
        None,
    ),
    "sidecar without recording": (
        lambda i, v, t: _write(i / "orphan.toml", b'case_id = "KZ-1"'),
        "ignored",
        None,
    ),
    "folder named like a video": (
        lambda i, v, t: (i / "KZ-1_dir.mp4").mkdir() or i / "KZ-1_dir.mp4",
        "ignored",
        None,
    ),
}


def _ffmpegs() -> dict[str, str]:
    """The ffmpeg builds a user may have, by name: ffmpeg words its errors differently from
    version to version, and a message not recognised reaches the user as a raw ffmpeg line."""
    import imageio_ffmpeg

    found = {"imageio-ffmpeg": imageio_ffmpeg.get_ffmpeg_exe()}
    on_path = shutil.which("ffmpeg")
    if on_path:
        found["ffmpeg on PATH"] = on_path
    return found


FFMPEGS = _ffmpegs()
# A case whose outcome is ffmpeg's verdict runs with each ffmpeg found (.ci/run installs Debian's
# besides imageio-ffmpeg's); the others run once, with the one the pipeline picks.
PARAMS = [
    pytest.param(name, binary, id=f"{name}, {label}" if binary else name)
    for name, (_, outcome, _) in CASES.items()
    for label, binary in (FFMPEGS.items() if outcome == "failed" else [("", None)])
]


@pytest.mark.parametrize("name, binary", PARAMS)
def test_bad_input(home, speech_video, tmp_path, monkeypatch, name, binary):
    build, outcome, pattern = CASES[name]
    if binary:
        monkeypatch.setattr(media, "ffmpeg_binary", lambda: binary)
    dropped = Path(build(home.inbox, speech_video, tmp_path))
    before = {
        p: p.read_bytes() for p in home.inbox.rglob("*") if p.is_file() and not p.is_symlink()
    }

    store = Store(home.database)
    settler = intake.Settler(0)
    for moment in (0, 1, 2):
        scan_once(home, store, settler, now=moment)
    job_runner = JobRunner(home, store)
    while job_runner.run_next():
        pass
    jobs = store.jobs()
    store.close()

    if outcome in ("rejected", "ignored"):
        assert jobs == []
        for path, data in before.items():
            assert path.read_bytes() == data, f"{path} was altered"
        note = dropped.with_name(dropped.name + intake.REJECTED_SUFFIX)
        if outcome == "rejected":
            assert note.exists(), "the reason is written beside the file"
            assert re.search(pattern, note.read_text()), note.read_text()
            assert dropped.exists() or dropped.is_symlink()
        else:
            assert not note.exists()
        return

    [job] = jobs
    assert job.state == outcome, job.error
    original = Path(job.evidence_path).read_bytes()
    assert sha(original) == job.sha256 == sha(before[dropped]), (
        "the stored original is what was dropped"
    )
    if outcome == "failed":
        assert re.search(pattern, job.error), job.error
        assert (
            job.sha256 in (home.outbox / job.case_id / job.interview_id / "FAILED.txt").read_text()
        )


def test_at_least_thirty_bad_inputs():
    assert len(CASES) >= 30


def test_file_vanishing_during_intake(home, speech_video, monkeypatch):
    dropped = home.inbox / "KZ-1_gone.mp4"
    dropped.write_bytes(speech_video.read_bytes())
    real_copy = intake._copy_hashing

    def vanish_first(source, target):
        source.unlink()
        return real_copy(source, target)

    monkeypatch.setattr(intake, "_copy_hashing", vanish_first)
    store = Store(home.database)
    with pytest.raises(intake.IntakeError, match="disappeared"):
        intake.take(home, store, dropped, move=True)
    assert store.jobs() == [] and not [p for p in home.evidence.rglob("*") if p.is_file()]
    store.close()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--language", "uz"], "not one of"),
        (["--case", "../x"], "does not match"),
    ],
)
def test_bad_options_to_process(home, cli, speech_video, args, message):
    result = cli("process", speech_video, *args)
    assert result.exit_code == 1 and message in result.output
