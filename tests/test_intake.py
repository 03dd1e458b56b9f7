import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from pipeline import config, intake
from pipeline.store import Store
from pipeline.watch import scan_once


@pytest.fixture
def store(home):
    s = Store(home.database)
    yield s
    s.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_original_goes_read_only_into_evidence_store_with_its_hash(
    home, store, speech_video, tmp_path
):
    mine = tmp_path / "KZ-2024-0113_mother.mp4"
    mine.write_bytes(speech_video.read_bytes())
    result = intake.take(home, store, mine)
    job = result.job
    stored = Path(job.evidence_path)
    assert job.sha256 == sha(mine) == sha(stored)
    assert stored.is_relative_to(home.evidence)
    assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert mine.exists(), "process must leave the user's own file where it is"
    assert job.case_id == "KZ-2024-0113" and job.state == "queued"
    assert job.interview_id == f"mother-{job.sha256[:8]}"


def test_same_recording_twice_is_one_job(home, store, speech_video, tmp_path):
    first = intake.take(home, store, speech_video, case_id="KZ-1")
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(speech_video.read_bytes())
    second = intake.take(home, store, copy, case_id="KZ-1")
    assert second.duplicate and second.job.id == first.job.id
    assert len(store.jobs()) == 1
    assert [e["kind"] for e in store.events()] == ["intake", "duplicate"]


@pytest.mark.parametrize(
    "where, expected",
    [
        ("KG-77/interview.mp4", "KG-77"),
        ("KZ-5/day2/interview.mp4", "KZ-5"),
        ("KZ-9_aunt.mp4", "KZ-9"),
        ("aunt.mp4", None),
        ("not-a-case/aunt.mp4", None),
    ],
)
def test_case_id_from_folder_or_filename(home, where, expected):
    folder = home.watch[0]
    assert intake.case_from_path(folder.path / where, folder, home) == expected


def test_case_prefix_of_a_watch_folder(home):
    folder = config.WatchFolder(home.home / "usb", case_prefix="KG-")
    assert intake.case_from_path(folder.path / "0042_brother.mp4", folder, home) == "KG-0042"


def test_case_option_beats_sidecar_beats_path(home, store, speech_video, tmp_path):
    media = tmp_path / "KZ-3_x.mp4"
    media.write_bytes(speech_video.read_bytes())
    (tmp_path / "KZ-3_x.mp4.toml").write_text(
        'case_id = "KZ-2"\nlanguage = "ru"\nnames = ["Ерлан"]\n'
    )
    job = intake.take(home, store, media).job
    assert (job.case_id, job.language, job.meta["names"]) == ("KZ-2", "ru", ["Ерлан"])
    other = tmp_path / "KZ-3_y.mp4"
    other.write_bytes(speech_video.read_bytes() + b"\0")
    assert intake.take(home, store, other, case_id="KZ-1").job.case_id == "KZ-1"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("a.mp4.toml", "case_id = ", "not valid TOML"),
        ("a.mp4.json", "{broken", "not valid JSON"),
        ("a.json", '{"case_id": "../../etc"}', "does not match"),
        ("a.toml", 'language = "uz"', "not one of"),
        ("a.toml", "secret = 1", "unknown keys"),
    ],
)
def test_bad_sidecar_is_refused_and_nothing_is_stored(
    home, store, speech_video, tmp_path, name, text, message
):
    media = tmp_path / "a.mp4"
    media.write_bytes(speech_video.read_bytes())
    (tmp_path / name).write_text(text)
    with pytest.raises(intake.IntakeError, match=message):
        intake.take(home, store, media)
    assert store.jobs() == [] and media.exists()


def test_bad_case_option_is_refused(home, store, speech_video):
    with pytest.raises(intake.IntakeError, match="does not match"):
        intake.take(home, store, speech_video, case_id="../../etc")


def test_empty_file_is_refused(home, store, tmp_path):
    empty = tmp_path / "KZ-1_empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(intake.IntakeError, match="empty"):
        intake.take(home, store, empty)
    assert not any(home.evidence.rglob("*.mp4"))


@pytest.mark.parametrize(
    "name", ["x.mp4.part", "x.mp4.crdownload", ".hidden.mp4", "~$x.mp4", "x.mp4.REJECTED.txt"]
)
def test_temporary_names_are_ignored(name):
    assert intake.is_temporary(Path(name))


def test_settler_waits_for_size_and_time_to_hold_still():
    settler = intake.Settler(settle_seconds=2)
    p = Path("a.mp4")
    assert not settler.ready(p, 100, 1.0, now=0)
    assert not settler.ready(p, 200, 2.0, now=1)  # still growing
    assert not settler.ready(p, 200, 2.0, now=2.5)
    assert settler.ready(p, 200, 2.0, now=3.1)


def test_half_copied_file_is_not_touched_until_it_settles(home, store, speech_video):
    settler = intake.Settler(home.settle_seconds)
    target = home.inbox / "KZ-1_growing.mp4"
    data = speech_video.read_bytes()
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    clock = 0.0
    with open(target, "wb") as fh:
        for n, chunk in enumerate(chunks):  # a slow copy: a little more between every scan
            fh.write(chunk)
            fh.flush()
            os.utime(target, (n, n))
            clock += home.settle_seconds * 2
            assert scan_once(home, store, settler, now=clock) == []
    assert target.exists() and store.jobs() == []
    assert scan_once(home, store, settler, now=clock + home.settle_seconds / 2) == []
    # 1.5x, not exactly settle_seconds: the clock is a sum of many 1.2 s steps, whose rounding
    # error alone would decide a comparison at exactly the boundary.
    taken = scan_once(home, store, settler, now=clock + home.settle_seconds * 1.5)
    assert len(taken) == 1 and not target.exists()
    assert taken[0].job.sha256 == hashlib.sha256(data).hexdigest()


def test_unsupported_file_is_left_with_a_reason_beside_it(home, store):
    doc = home.inbox / "notes.docx"
    doc.write_bytes(b"PK\x03\x04 not an interview")
    settler = intake.Settler(0)
    scan_once(home, store, settler, now=0)
    scan_once(home, store, settler, now=1)
    assert doc.read_bytes() == b"PK\x03\x04 not an interview"
    note = doc.with_name("notes.docx.REJECTED.txt")
    assert "Not a recording" in note.read_text()
    note.unlink()
    scan_once(home, store, settler, now=2)
    assert not note.exists(), "an unchanged rejected file is not looked at again"


def test_symlink_in_inbox_is_not_followed(home, store, speech_video):
    link = home.inbox / "KZ-1_link.mp4"
    link.symlink_to(speech_video)
    settler = intake.Settler(0)
    scan_once(home, store, settler, now=0)
    scan_once(home, store, settler, now=1)
    assert store.jobs() == [] and link.is_symlink()
    assert "Links are not taken" in (home.inbox / "KZ-1_link.mp4.REJECTED.txt").read_text()


def test_sidecar_travels_with_its_recording_into_the_store(home, store, speech_video):
    target = home.inbox / "interview.mp4"
    target.write_bytes(speech_video.read_bytes())
    (home.inbox / "interview.json").write_text(
        json.dumps({"case_id": "KZ-44", "interviewee": "sister"})
    )
    settler = intake.Settler(0)
    scan_once(home, store, settler, now=0)
    [taken] = scan_once(home, store, settler, now=1)
    assert taken.job.case_id == "KZ-44" and taken.job.meta["interviewee"] == "sister"
    assert list(home.inbox.iterdir()) == []
    assert (Path(taken.job.evidence_path).parent / "sidecar.json").exists()
