"""Findings of an outside attack on the watcher's import of a hand-edited ``review.txt``: saves.

How and when a save reaches the watcher: an editor that stalls, saves again without reloading,
a watcher killed mid-import, and review.txt replaced by a link, a directory or a pipe. The scan
is driven as in tests/watch_attack.py. Each test is marked xfail(strict) with the finding it
shows: it fails on the code it was written against.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading

from pipeline.review import reviewfile
from pipeline.review.textfile import ERRORS_FILE

from review_home import (  # noqa: F401  (home, job, processed, reviews: fixtures)
    home,
    job,
    processed,
    review_file,
    reviews,
    seed_speakers,
)
from watch_attack import SETTLED, Scanner, edited, finding, killed_watcher, note, segments

# Saving in place, slowly ----------------------------------------------------------------------


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


# Encodings, links and directories ---------------------------------------------------------------


def test_a_byte_order_mark_is_imported_or_named(home, job, reviews, monkeypatch):
    path = review_file(reviews, job)
    text = edited(path.read_text(), "Where is your son?", "Where is your son now?")
    path.write_bytes("\ufeff".encode() + text.replace("\n", "\r\n").encode())
    Scanner(home, monkeypatch).scan(SETTLED)
    imported = segments(path)[2].english == "Where is your son now?"
    told = re.search(r"byte order mark|BOM", note(path) or "")
    assert imported or told, note(path)


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
