"""Review: speaker labels (renamed, merged, offered when they sound alike) and word times.

The interview is made once per module by the real pipeline (tiny Whisper model); see
tests/review_home.py.
"""

import json

from pipeline import transcript
from pipeline.review.reviewfile import close_speakers

from review_home import (  # noqa: F401  (home, job, processed, reviews, server: fixtures)
    CLOSE,
    call,
    home,
    job,
    processed,
    review_cli,
    review_file,
    reviews,
    seed_close,
    seed_speakers,
    server,
)


def test_renaming_a_speaker_is_one_audited_edit_that_changes_every_segment(home, job, reviews):
    seed_speakers(home, job)
    interview = reviews.find(job.interview_id)
    reviews.open(interview)
    t = reviews.rename_speaker(interview, "Aigerim", "S1", "Interviewer")
    assert [s.speaker for s in t.segments] == ["Interviewer", "S2", "Interviewer", "S2"]
    entries = reviews.audit(job.interview_id)
    assert [
        (a["segment_id"], a["field"], a["before"], a["after"])
        for a in entries
        if a["action"] == "rename speaker"
    ] == [(None, "speaker", "S1", "Interviewer")]
    assert not [a for a in entries if a["field"] == "speaker" and a["segment_id"] is not None]
    revisions = reviews.revisions(job.interview_id)
    assert [revisions[n]["revision"] for n in (1, 2, 3, 4)] == [
        1,
        0,
        1,
        0,
    ]  # each renamed segment changed
    assert t.speakers["names"] == {"S1": "Interviewer"}

    # The review file lists the speakers; naming one there renames it everywhere, once.
    path = review_file(reviews, job)
    text = path.read_text()
    assert "speaker Interviewer -> Interviewer\nspeaker S2 -> S2\n" in text
    path.write_text(text.replace("speaker S2 -> S2", "speaker S2 -> Witness"))
    result = review_cli("import", path, "--reviewer", "Dana")
    assert result.exit_code == 0, result.output
    t = transcript.load(path.parent / transcript.REVIEWED_FILE)
    assert [s.speaker for s in t.segments] == ["Interviewer", "Witness", "Interviewer", "Witness"]
    assert len([a for a in reviews.audit(job.interview_id) if a["action"] == "rename speaker"]) == 2
    assert t.speakers["names"] == {"S1": "Interviewer", "S2": "Witness"}

    path.write_text(path.read_text().replace("speaker Witness -> Witness", "speaker S9 -> Mother"))
    result = review_cli("import", path, "--reviewer", "Dana")
    assert result.exit_code != 0 and "no segment has the speaker 'S9'" in result.output


def test_an_edit_drops_word_times_that_no_longer_spell_the_text(home, job, reviews):
    seed_speakers(home, job)
    interview = reviews.find(job.interview_id)
    t = reviews.save(
        interview, "Aigerim", 3, 0, {"speaker": "S2", "english": "Where is your son, please?"}
    )
    assert [w["text"] for w in t.segments[2].words] == [
        "Где",
        "ваш",
        "сын?",
    ]  # text untouched: words kept
    t = reviews.save(interview, "Aigerim", 3, 1, {"text": "Где сейчас ваш сын?"})
    assert (
        t.segments[2].words == []
    )  # a new word has no time: none is shown rather than a wrong one
    assert transcript.load_current(interview.out_dir).segments[2].words == []

    # A split between two words keeps each half's words; a merge joins them.
    t = reviews.split(interview, "Aigerim", 1, 0, at=0.48, offset=len("Мой брат"))
    assert [w["text"] for w in t.segments[0].words] == ["Мой", "брат"]
    assert [w["text"] for w in t.segments[1].words] == ["живёт", "в", "Алматы."]
    t = reviews.merge(interview, "Aigerim", 1, 1, next_revision=0)
    assert [w["text"] for w in t.segments[0].words] == ["Мой", "брат", "живёт", "в", "Алматы."]


def test_a_speaker_is_renamed_over_http(home, job, server):
    seed_speakers(home, job)
    path = f"/api/interviews/{job.interview_id}"
    status, _, body = call(
        server, "POST", f"{path}/speakers", {"reviewer": "Aigerim", "old": "S2", "new": "Witness"}
    )
    assert status == 200, body
    assert [s["speaker"] for s in json.loads(body)["segments"]] == [
        "S1",
        "Witness",
        "S1",
        "Witness",
    ]
    status, _, body = call(
        server, "POST", f"{path}/speakers", {"reviewer": "Aigerim", "old": "S7", "new": "X"}
    )
    assert status == 400 and "S7" in json.loads(body)["error"]


# Merging speakers the voice step found close -------------------------------------------


def test_merging_speakers_is_one_audited_edit_and_the_offer_goes(home, job, reviews):
    seed_close(home, job)
    interview = reviews.find(job.interview_id)
    t = reviews.open(interview)
    assert close_speakers(t) == [{"keep": "S1", "merge": "S2", "distance": 0.21}]
    hint = "# S2 and S1 sound alike: 'speaker S2 -> S1' merges them."
    assert hint in review_file(reviews, job).read_text()

    t = reviews.merge_speakers(interview, "Aigerim", "S2", "S1")
    assert [s.speaker for s in t.segments] == ["S1"] * 4
    entries = [a for a in reviews.audit(job.interview_id) if a["action"] == "merge speakers"]
    assert [(a["segment_id"], a["reviewer"], a["before"], a["after"]) for a in entries] == [
        (None, "Aigerim", "S2", "S1")
    ]
    revisions = reviews.revisions(job.interview_id)
    assert [revisions[n]["revision"] for n in (1, 2, 3, 4)] == [0, 1, 0, 1]
    assert t.speakers["merged"] == [{"from": "S2", "into": "S1"}]
    assert close_speakers(t) == []  # nothing left to offer
    assert "sound alike" not in review_file(reviews, job).read_text()


def test_a_renamed_speaker_is_offered_under_its_new_name(home, job, reviews):
    seed_close(home, job)
    interview = reviews.find(job.interview_id)
    reviews.open(interview)
    t = reviews.rename_speaker(interview, "Aigerim", "S1", "Interviewer")
    assert close_speakers(t) == [{"keep": "Interviewer", "merge": "S2", "distance": 0.21}]


def test_speakers_are_merged_over_http_and_bad_requests_say_why(home, job, server):
    seed_close(home, job)
    path = f"/api/interviews/{job.interview_id}"
    status, _, body = call(server, "GET", path)
    assert json.loads(body)["close_speakers"] == [{"keep": "S1", "merge": "S2", "distance": 0.21}]
    merge = {"reviewer": "Aigerim", "merge": "S2", "into": "S1"}
    assert call(server, "POST", f"{path}/merge-speakers", merge, token=False)[0] == 401
    status, _, body = call(server, "POST", f"{path}/merge-speakers", {**merge, "into": "S9"})
    assert status == 400 and "S9" in json.loads(body)["error"]
    status, _, body = call(server, "POST", f"{path}/merge-speakers", {**merge, "into": "S2"})
    assert status == 400 and "two different speakers" in json.loads(body)["error"]
    status, _, body = call(server, "POST", f"{path}/merge-speakers", merge)
    assert status == 200, body
    data = json.loads(body)
    assert [s["speaker"] for s in data["segments"]] == ["S1"] * 4 and data["close_speakers"] == []
    # The page's part is its own ES module, loaded by the page.
    status, headers, body = call(server, "GET", "/static/speaker_merge.js")
    assert status == 200 and "javascript" in headers["Content-Type"]
    assert b"hooks.rendered.push" in body and b"/merge-speakers" in body
    status, _, features = call(server, "GET", "/static/features.js")
    assert b'import "./speaker_merge.js";' in features
