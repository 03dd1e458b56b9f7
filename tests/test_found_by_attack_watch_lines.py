"""Findings of an outside attack on the watcher's import of a hand-edited ``review.txt``: lines.

What the reviewer (or the tool itself) wrote in the file: a deleted segment line, notes,
speaker renames, a file naming another interview, and text that looks like the file's own
markers. The scan is driven as in tests/watch_attack.py. Each test shows a finding of the attack;
all of them are fixed.
"""

from __future__ import annotations

from pipeline.review.edits import Reviews

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
from watch_attack import SETTLED, Scanner, edited, note, segments

# Lines the reviewer changed -------------------------------------------------------------------


def test_a_deleted_segment_line_does_not_put_the_next_block_into_the_previous_segment(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    lines = path.read_text().split("\n")
    path.write_text("\n".join(line for line in lines if not line.startswith("=== segment 2 ")))
    Scanner(home, monkeypatch).scan(SETTLED)
    assert segments(path)[0].english == "My brother lives in Almaty."
    assert note(path) is not None, "the reviewer is told which line is wrong"


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


def test_a_review_file_naming_an_unknown_interview_tells_the_reviewer(
    home, job, reviews, monkeypatch
):
    path = review_file(reviews, job)
    text = edited(path.read_text(), job.interview_id, job.interview_id + "-old")
    path.write_text(edited(text, "Where is your son?", "Where is your son now?"))
    Scanner(home, monkeypatch).scan(SETTLED)
    assert note(path) is not None


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
