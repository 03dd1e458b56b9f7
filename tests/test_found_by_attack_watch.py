"""Findings of an outside attack on the watcher's import of a hand-edited ``review.txt``.

Each test acts as a reviewer's text editor would on the review file of one interview made by the
real pipeline (tests/review_home.py: the tiny test model, readable segments published over it),
and drives the watcher's review-file scan directly, one call per poll, so that every
interleaving is exact. Its clock moves on by the default poll interval at each scan. Each test
is marked xfail(strict) with the finding it shows: it fails on the code it was written against.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time as real_time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline import config, transcript, watch
from pipeline.review import reviewfile
from pipeline.review.edits import Reviews
from pipeline.review.textfile import ERRORS_FILE

from review_home import (  # noqa: F401  (home, job, processed, reviews: fixtures)
    home,
    job,
    process,
    processed,
    review_file,
    reviews,
    seed,
    seed_speakers,
)

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


# Saving in place, slowly ----------------------------------------------------------------------


@finding(
    "an editor that stalls for two polls (4 s) between truncating review.txt and "
    "writing it loses the whole save: the empty file is imported as 'no edits' and replaced "
    "by rename, so the editor's write lands in the unlinked file",
)
def test_an_editor_stalling_after_truncating_the_file_does_not_lose_the_save(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    scanner = Scanner(home, monkeypatch)
    scanner.scan(SETTLED)  # the watcher has seen the file as written
    saved = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    with open(path, "r+b") as editor:  # saving in place: truncate, then write
        editor.truncate(0)
        editor.flush()
        scanner.scan(2)  # a share or a busy disk holds the editor up for two polls
        editor.write(saved.encode())
    scanner.scan(SETTLED)
    assert segments(path)[2].english == "Where is your son now?", "the reviewer's save was lost"


@finding(
    "an editor that stalls for two polls mid-save gets half a segment imported "
    "(its English cut off, audited as the reviewer's edit) and the rest of the save lost",
)
def test_an_editor_stalling_mid_save_does_not_import_half_a_segment(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    scanner = Scanner(home, monkeypatch)
    scanner.scan(SETTLED)
    saved = edited(
        path.read_text(), "Where is your son?", "Where is your son now, and who took him?"
    )
    saved = edited(
        saved,
        "Его забрали в две тысячи восемнадцатом году.\nenglish:\n",
        "Его забрали в две тысячи восемнадцатом году.\nenglish:\nThey took him in 2018.",
    )
    cut = saved.index("now, and") + len("now,")
    with open(path, "r+b") as editor:
        editor.truncate(0)
        editor.write(saved[:cut].encode())
        editor.flush()
        scanner.scan(2)
        editor.write(saved[cut:].encode())
    scanner.scan(SETTLED)
    englishes = [a["after"] for a in reviews.audit(job.interview_id) if a["field"] == "english"]
    assert "Where is your son now," not in englishes, "half a segment was imported"
    assert [s.english for s in segments(path)[2:]] == [
        "Where is your son now, and who took him?",
        "They took him in 2018.",
    ]


@finding(
    "a save that lands between the watcher's 'file still holds what I imported' "
    "check and its rewrite of review.txt is overwritten by the rewrite and lost",
)
def test_a_save_landing_while_the_watcher_rewrites_the_file_is_kept(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    scanner = Scanner(home, monkeypatch)
    scanner.scan(SETTLED)
    first = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    second = edited(first, "My brother lives in Almaty.", "My brother lived in Almaty.")
    path.write_text(first)
    rendered = reviewfile.render

    def render_while_the_editor_saves(*args, **kwargs):
        monkeypatch.setattr(reviewfile, "render", rendered)
        with open(path, "w") as editor:  # the reviewer saves again, in place, just now
            editor.write(second)
        return rendered(*args, **kwargs)

    monkeypatch.setattr(reviewfile, "render", render_while_the_editor_saves)
    scanner.scan(SETTLED)
    assert reviewfile.render is rendered, "the watcher rewrote the file"
    kept = "My brother lived in Almaty." in path.read_text()
    assert kept or segments(path)[0].english == "My brother lived in Almaty.", (
        "the second save is neither on disk nor imported"
    )


# Saving again -----------------------------------------------------------------------------------


@finding(
    "saving again from an editor that did not reload review.txt after the "
    "watcher rewrote it is refused as a conflict with the reviewer's own first save, and the "
    "new edit is not imported",
)
def test_saving_again_from_an_editor_that_did_not_reload_is_no_conflict_with_itself(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    scanner = Scanner(home, monkeypatch)
    buffer = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    path.write_text(buffer)
    scanner.scan(SETTLED)  # imported, and review.txt rewritten at the new revision
    assert segments(path)[2].english == "Where is your son now?"
    path.write_text(edited(buffer, "My brother lives in Almaty.", "My brother lived in Almaty."))
    scanner.scan(SETTLED)
    assert note(path) is None
    assert segments(path)[0].english == "My brother lived in Almaty."


@finding(
    "a watcher SIGKILLed mid-import (edits saved, speaker names not yet) "
    "refuses the same file after its restart as a conflict with its own half import, and "
    "the names are never taken",
)
def test_a_watcher_killed_mid_import_finishes_the_import_after_a_restart(
    home, job, reviews, monkeypatch
):
    seed_speakers(home, job)
    path = review_file(reviews, job)
    text = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    path.write_text(edited(text, "speaker S2 -> S2", "speaker S2 -> Witness"))
    killed_watcher(home, "pipeline.review.edits:Reviews.rename_speaker")
    assert segments(path)[2].english == "Where is your son now?", "killed after the edits"
    Scanner(home, monkeypatch).scan(SETTLED)  # the restarted watcher
    assert note(path) is None
    assert [s.speaker for s in segments(path)] == ["S1", "Witness", "S1", "Witness"]


@finding(
    "a watcher SIGKILLed after writing reviewed.json and before its commit "
    "leaves the edit in reviewed.json with no audit entry, revision or custody event; the "
    "restarted watcher then imports it as 'no change'",
)
def test_a_watcher_killed_before_its_commit_leaves_no_unaudited_edit(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    path.write_text(edited(path.read_text(), "Where is your son?", "Where is your son now?"))
    killed_watcher(home, "pipeline.search:index_transcript")  # reviewed.json written, no commit
    Scanner(home, monkeypatch).scan(SETTLED)  # the restarted watcher
    audited = [a["after"] for a in reviews.audit(job.interview_id, 3) if a["field"] == "english"]
    english = segments(path)[2].english
    assert english == (audited[-1] if audited else "Where is your son?"), (
        f"reviewed.json holds {english!r}, the audit log {audited}"
    )


# Lines the reviewer changed -------------------------------------------------------------------


@finding(
    "deleting one '=== segment' line puts the next block (its transcript, "
    "flags and fields) into the previous segment's English, saved without a word",
)
def test_a_deleted_segment_line_does_not_put_the_next_block_into_the_previous_segment(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    lines = path.read_text().split("\n")
    path.write_text("\n".join(line for line in lines if not line.startswith("=== segment 2 ")))
    Scanner(home, monkeypatch).scan(SETTLED)
    assert segments(path)[0].english == "My brother lives in Almaty."
    assert note(path) is not None, "the reviewer is told which line is wrong"


@finding(
    "notes a reviewer writes as '#' lines, which the file says are ignored, "
    "are deleted without trace when the watcher rewrites review.txt after importing it",
)
def test_a_reviewers_notes_in_review_txt_are_not_deleted_by_the_import(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    text = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    path.write_text(
        edited(
            text, "reviewed: no\ntext:\nГде", "# ask Dana: is it 'son'?\nreviewed: no\ntext:\nГде"
        )
    )
    Scanner(home, monkeypatch).scan(SETTLED)
    assert segments(path)[2].english == "Where is your son now?"
    kept = [f.name for f in path.parent.glob("review*") if "ask Dana" in f.read_text()]
    assert kept, "the reviewer's note is gone from the interview's folder"


@finding(
    "swapping two speaker names ('speaker S1 -> S2', 'speaker S2 -> S1') "
    "gives every segment to S1: the renames run one after the other, the first merging",
)
def test_swapping_two_speakers_in_review_txt_swaps_them_or_is_refused(
    home, job, reviews, monkeypatch
):
    seed_speakers(home, job)
    path = review_file(reviews, job)
    text = edited(path.read_text(), "speaker S1 -> S1", "speaker S1 -> S2")
    path.write_text(edited(text, "speaker S2 -> S2", "speaker S2 -> S1"))
    Scanner(home, monkeypatch).scan(SETTLED)
    speakers = [s.speaker for s in segments(path)]
    refused = speakers == ["S1", "S2", "S1", "S2"] and note(path) is not None
    assert speakers == ["S2", "S1", "S2", "S1"] or refused, speakers


@finding(
    "two names for one speaker half-import review.txt (its edits and the "
    "first name saved, the second refused) and leave no review.ERRORS.txt: the reviewer is "
    "not told, and the file's other edits are later refused as stale",
)
def test_a_refused_rename_leaves_nothing_half_imported_and_tells_the_reviewer(
    home, job, reviews, monkeypatch
):
    seed_speakers(home, job)
    path = review_file(reviews, job)
    text = edited(path.read_text(), "speaker S1 -> S1", "speaker S1 -> Mother\nspeaker S1 -> Aunt")
    path.write_text(edited(text, "Where is your son?", "Where is your son now?"))
    Scanner(home, monkeypatch).scan(SETTLED)
    assert note(path) is not None, "the reviewer is told why"
    assert [(s.speaker, s.english) for s in segments(path)][:3] == [
        ("S1", "My brother lives in Almaty."),
        ("S2", None),
        ("S1", "Where is your son?"),
    ], "all or nothing"


@finding(
    "a review.txt refused for a reason other than a bad line (here: saved on "
    "the review page between the watcher's check and its save) leaves no review.ERRORS.txt "
    "and is not tried again: the reviewer's edit is dropped silently",
)
def test_a_review_file_refused_by_a_page_save_meanwhile_tells_the_reviewer(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    path.write_text(edited(path.read_text(), "Where is your son?", "Where is your son now?"))
    apply_edits = Reviews.apply_edits

    def page_save_first(self, interview, *args, **kwargs):
        monkeypatch.setattr(Reviews, "apply_edits", apply_edits)
        page = Reviews(home)
        page.save(page.find(job.interview_id), "Dana", 3, 0, {"reviewed": True})
        page.close()
        return apply_edits(self, interview, *args, **kwargs)

    monkeypatch.setattr(Reviews, "apply_edits", page_save_first)
    Scanner(home, monkeypatch).scan(SETTLED)
    imported = segments(path)[2].english == "Where is your son now?"
    assert imported or note(path) is not None, "neither imported nor told why"


@finding(
    "a review.txt whose first line names an interview this home does not "
    "know is dropped with no review.ERRORS.txt beside it (NotFound is not a file error)",
)
def test_a_review_file_naming_an_unknown_interview_tells_the_reviewer(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    text = edited(path.read_text(), job.interview_id, job.interview_id + "-old")
    path.write_text(edited(text, "Where is your son?", "Where is your son now?"))
    Scanner(home, monkeypatch).scan(SETTLED)
    assert note(path) is not None


@finding(
    "review.txt saved into another interview's folder (its first line naming "
    "the first interview) is imported into the first interview, and the next save there is "
    "refused with no review.ERRORS.txt in either folder",
)
def test_a_review_file_in_another_interviews_folder_is_refused_there(
    home, job, reviews, monkeypatch, speech_video, tmp_path
):
    other_video = tmp_path / "other.mp4"
    other_video.write_bytes(speech_video.read_bytes() + b"\0")  # another recording
    other = process(home, other_video, case="KZ-8")
    seed(home, other)
    path = review_file(reviews, job)
    there = home.outbox / other.case_id / other.interview_id / "review.txt"
    # "Save as" into the other interview's folder, with an edit meant for that interview
    there.write_text(edited(path.read_text(), "Where is your son?", "Where is your son now?"))
    try:
        Scanner(home, monkeypatch).scan(SETTLED)
        assert segments(path)[2].english == "Where is your son?", "edited the interview inside"
        assert note(there) is not None, "the reviewer is told the file belongs elsewhere"
    finally:  # the module's other tests scan the whole outbox
        there.unlink()


# Text the tool wrote itself ---------------------------------------------------------------------


@finding(
    "a text saved on the review page with a line reading 'english:' is cut "
    "there by the watcher when it reads back the review.txt the tool itself rewrote, the rest "
    "moved into the English: no one touched the file",
)
def test_a_text_line_reading_english_survives_the_watcher(home, job, reviews, monkeypatch):
    path = review_file(reviews, job)
    scanner = Scanner(home, monkeypatch)
    scanner.scan(SETTLED)
    text = "Мой брат живёт в Алматы.\nenglish:\nон так сказал"  # typed on the page
    reviews.save(reviews.find(job.interview_id), "Dana", 1, 0, {"text": text})
    scanner.scan(SETTLED)
    assert (segments(path)[0].text, segments(path)[0].english) == (
        text,
        "My brother lives in Almaty.",
    )


@finding(
    "English saved on the review page with a line starting '===' makes the "
    "review.txt the tool writes unimportable: every later edit in the file is refused",
)
def test_a_review_file_written_by_the_tool_imports_whatever_the_english_says(
    home, job, reviews, monkeypatch
):
    interview = reviews.find(job.interview_id)
    reviews.save(interview, "Dana", 3, 0, {"english": "Where is your son?\n=== he asked twice"})
    path = review_file(reviews, job)
    path.write_text(
        edited(path.read_text(), "My brother lives in Almaty.", "My brother lived in Almaty.")
    )
    Scanner(home, monkeypatch).scan(SETTLED)
    assert note(path) is None
    assert segments(path)[0].english == "My brother lived in Almaty."


# Encodings, links and directories ---------------------------------------------------------------


@finding(
    "a UTF-8 byte order mark (Windows Notepad) is refused as 'line 1: text "
    "outside a segment block', a line that looks right, instead of imported or named",
)
def test_a_byte_order_mark_is_imported_or_named(home, job, reviews, monkeypatch):
    path = review_file(reviews, job)
    text = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    path.write_bytes("\ufeff".encode() + text.replace("\n", "\r\n").encode())
    Scanner(home, monkeypatch).scan(SETTLED)
    imported = segments(path)[2].english == "Where is your son now?"
    told = re.search(r"byte order mark|BOM", note(path) or "")
    assert imported or told, note(path)


@finding(
    "when review.txt is a link to the reviewer's own copy, a save refused as "
    "stale (the watcher never rewrites a linked file) leaves no review.ERRORS.txt anywhere",
)
def test_a_linked_review_file_is_told_why_a_save_was_not_imported(
    home, job, reviews, monkeypatch, tmp_path
):
    path = review_file(reviews, job)
    own = tmp_path / "desk" / "review.txt"
    own.parent.mkdir()
    own.write_text(edited(path.read_text(), "Where is your son?", "Where is your son now?"))
    path.unlink()
    path.symlink_to(own)
    try:
        scanner = Scanner(home, monkeypatch)
        scanner.scan(SETTLED)
        assert segments(path)[2].english == "Where is your son now?"
        own.write_text(
            edited(own.read_text(), "My brother lives in Almaty.", "My brother lived in Almaty.")
        )
        scanner.scan(SETTLED)
        imported = segments(path)[0].english == "My brother lived in Almaty."
        told = (path.parent / ERRORS_FILE).exists() or (own.parent / ERRORS_FILE).exists()
        assert imported or told, "the second save is neither imported nor refused with a note"
    finally:
        path.unlink()


@finding(
    "while review.txt is a directory, a save on the review page is committed "
    "and then fails with IsADirectoryError, so the reviewer sees an error for a saved edit",
    raises=IsADirectoryError,
)
def test_a_page_save_succeeds_while_review_txt_is_a_directory(home, job, reviews, monkeypatch):
    path = review_file(reviews, job)
    path.unlink()
    path.mkdir()
    try:
        Scanner(home, monkeypatch).scan(SETTLED)
        interview = reviews.find(job.interview_id)
        reviews.save(interview, "Dana", 3, 0, {"english": "Where is your son now?"})
    finally:
        path.rmdir()


@finding(
    "a named pipe in place of review.txt blocks the watcher's scan thread "
    "in open(), and with it the intake of every new recording",
)
def test_a_pipe_in_place_of_review_txt_does_not_stop_the_watcher(home, job, reviews, monkeypatch):
    path = review_file(reviews, job)
    path.unlink()
    os.mkfifo(path)
    scanner = Scanner(home, monkeypatch)
    scanning = threading.Thread(target=scanner.scan, args=(SETTLED,), daemon=True)
    scanning.start()
    scanning.join(timeout=10)  # the scans take milliseconds unless they block
    stuck = scanning.is_alive()
    while scanning.is_alive():  # let it go: a writer that closes at once gives it an end
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        scanning.join(timeout=0.05)
    path.unlink()
    assert not stuck, "the watcher's scan thread is stuck reading a pipe"
