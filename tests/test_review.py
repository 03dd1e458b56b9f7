"""Review: the plain-text file, stale saves, pipeline re-runs and the review server's gates.

The interview is made once per module by the real pipeline (tiny Whisper model); see
tests/review_home.py.
"""

import json
import logging

import pytest

from pipeline import transcript
from pipeline.outbox import output_dir
from pipeline.review.edits import Conflict, NeedsConfirmation, Reviews
from pipeline.review.textfile import ERRORS_FILE, parse
from pipeline.store import Store

from review_home import (  # noqa: F401  (home, job, processed, reviews, server: fixtures)
    SEGMENTS,
    call,
    home,
    job,
    new_home,
    process,
    processed,
    review_cli,
    review_file,
    reviews,
    seed,
    server,
)

# The plain-text review file ---------------------------------------------------------------


def test_review_file_round_trip(home, job, reviews):
    path = review_file(reviews, job)
    text = path.read_text()
    interview_id, blocks = parse(text, path)
    assert interview_id == job.interview_id
    assert [(b.segment_id, b.fields["text"], b.fields["english"]) for b in blocks] == [
        (s.id, s.text, s.english) for s in SEGMENTS
    ]
    assert "# flags: low confidence, translation missing" in text
    machine = (path.parent / transcript.MACHINE_FILE).read_bytes()

    edited = (
        text.replace("Ол лагерьде болды.", "Ол екі жыл лагерьде болды.\nСосын босатылды.")
        .replace(
            "english:\n\n",
            "english:\nHe was in the camp for two years.\nThen he was released.\n",
            1,
        )
        .replace(
            "language: kk\nspeaker:\nreviewed: no", "language: kk\nspeaker: mother\nreviewed: yes"
        )
    )
    path.write_text(edited)
    result = review_cli("import", path, "--reviewer", "Aigerim")
    assert result.exit_code == 0, result.output
    assert "segment(s) 2;" in result.output

    reviewed = transcript.load(path.parent / transcript.REVIEWED_FILE)
    seg = reviewed.segments[1]
    assert seg.text == "Ол екі жыл лагерьде болды.\nСосын босатылды."
    assert seg.english == "He was in the camp for two years.\nThen he was released."
    assert (seg.speaker, seg.reviewed) == ("mother", True)
    assert transcript.MISSING_TRANSLATION_FLAG not in seg.flags
    assert reviewed.review["status"] == "in_progress" and reviewed.review["reviewers"] == [
        "Aigerim"
    ]
    assert [s.text for s in reviewed.segments[::2]] == [SEGMENTS[0].text, SEGMENTS[2].text]
    assert (
        path.parent / transcript.MACHINE_FILE
    ).read_bytes() == machine  # machine output untouched

    # The file is rewritten at the new revision, and importing it again changes nothing.
    assert "=== segment 2 | 00:00:01.200 --> 00:00:02.400 | rev 1" in path.read_text()
    assert parse(path.read_text(), path)[1][1].fields["text"] == seg.text
    again = review_cli("import", path, "--reviewer", "Aigerim")
    assert again.exit_code == 0 and "segment(s) none" in again.output

    audit = reviews.audit(job.interview_id, 2)
    assert {(a["field"], a["before"], a["after"], a["reviewer"]) for a in audit} >= {
        ("text", "Ол лагерьде болды.", seg.text, "Aigerim"),
        ("english", None, seg.english, "Aigerim"),
        ("speaker", None, "mother", "Aigerim"),
        ("reviewed", False, True, "Aigerim"),
    }
    edits = [
        json.loads(e["detail"])
        for e in Store(home.database).events(job.interview_id)
        if e["kind"] == "edit"
    ]
    assert {(e["reviewer"], e["segment"], e["field"]) for e in edits} >= {
        ("Aigerim", 2, "text"),
        ("Aigerim", 2, "english"),
    }
    assert not any(
        seg.text in json.dumps(e, ensure_ascii=False) for e in edits
    )  # events name fields, not words


def test_malformed_review_file_is_refused_with_its_line_and_nothing_is_lost(home, job, reviews):
    interview = reviews.find(job.interview_id)
    t = reviews.save(
        interview, "Aigerim", 3, 0, {"english": "Where is your son now?"}
    )  # saved before
    path = review_file(reviews, job)
    saved = (path.parent / transcript.REVIEWED_FILE).read_bytes()

    lines = path.read_text().splitlines()
    lines[lines.index("Мой брат живёт в Алматы.")] = (
        "Менің ағам Алматыда тұрады."  # a good edit ...
    )
    bad = lines.index("language: kk")
    lines[bad] = "language: kz"  # ... and a typo
    english = [n for n, line in enumerate(lines) if line == "english:"][2]
    del lines[english]  # and a lost line
    path.write_text("\n".join(lines) + "\n")
    person = path.read_bytes()

    result = review_cli("import", path, "--reviewer", "Aigerim")
    assert result.exit_code == 1
    assert f"review.txt line {bad + 1}: language 'kz' is not one of kk, ky, ru" in result.output
    block3 = lines.index("=== segment 3 | 00:00:02.400 --> 00:00:03.600 | rev 1") + 1
    assert f"review.txt line {block3}: segment 3 has no english: line" in result.output
    assert "nothing was changed" in result.output
    assert (
        path.parent / transcript.REVIEWED_FILE
    ).read_bytes() == saved  # the earlier edit is kept
    assert path.read_bytes() == person  # the person's file is kept
    assert f"line {bad + 1}" in (path.parent / ERRORS_FILE).read_text()
    assert t.segments[2].english == "Where is your son now?"

    lines[bad] = "language: kk"
    lines.insert(english, "english:")
    path.write_text("\n".join(lines) + "\n")
    assert review_cli("import", path, "--reviewer", "Aigerim").exit_code == 0
    assert not (path.parent / ERRORS_FILE).exists()
    current = transcript.load_current(path.parent)
    assert current.segments[0].text == "Менің ағам Алматыда тұрады."
    assert current.segments[2].english == "Where is your son now?"


def test_review_file_edit_of_a_segment_changed_since_is_refused(home, job, reviews):
    path = review_file(reviews, job)
    stale = path.read_text()
    interview = reviews.find(job.interview_id)
    reviews.save(interview, "Dana", 2, 0, {"text": "Ол үш жыл лагерьде болды."})
    # The page's save rewrote the untouched file ...
    assert "| rev 1" in path.read_text()
    # ... but a copy someone kept editing still names revision 0.
    path.write_text(stale.replace("Ол лагерьде болды.", "Ол лагерьде екі жыл болды."))
    result = review_cli("import", path, "--reviewer", "Aigerim")
    line = stale.splitlines().index("=== segment 2 | 00:00:01.200 --> 00:00:02.400 | rev 0") + 1
    assert result.exit_code == 1
    assert (
        f"line {line}: segment 2 was changed by Dana" in result.output
        and "write 'rev 1' here" in result.output
    )
    assert transcript.load_current(path.parent).segments[1].text == "Ол үш жыл лагерьде болды."


# Edits kept apart from machine output -------------------------------------------------------


def test_rerunning_the_pipeline_keeps_human_edits(
    tmp_path, monkeypatch, tiny_checkpoint, speech_video, cli, argos_ru
):
    home = new_home(tmp_path / "home", tiny_checkpoint)
    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    job = process(home, speech_video)
    seed(home, job)
    reviews = Reviews(home)
    interview = reviews.find(job.interview_id)
    reviews.save(
        interview,
        "Aigerim",
        1,
        0,
        {"text": "Мой старший брат живёт в Алматы.", "english": "My elder brother."},
    )

    # Adding a translation package and translating pending interviews re-publishes the outbox,
    # and fills in only the English the started review still lacks.
    assert cli("models", "add", argos_ru).exit_code == 0
    result = cli("translate", "--pending")
    assert result.exit_code == 0 and f"{job.interview_id}: translation" in result.output
    machine = transcript.load(interview.out_dir / transcript.MACHINE_FILE)
    assert machine.segments[3].english is not None and machine.segments[0].text == SEGMENTS[0].text

    current = transcript.load_current(interview.out_dir)
    assert current.segments[0].text == "Мой старший брат живёт в Алматы."
    assert current.segments[0].english == "My elder brother."
    assert current.segments[2].english == "Where is your son?"
    assert (
        current.segments[3].english is not None and current.segments[1].english is None
    )  # no kk package


def test_a_stale_save_is_refused_with_the_other_version(home, job, reviews):
    interview = reviews.find(job.interview_id)
    reviews.save(interview, "Aigerim", 2, 0, {"text": "Ол лагерьде екі жыл болды."})
    with pytest.raises(Conflict) as refused:
        reviews.save(interview, "Dana", 2, 0, {"text": "Ол лагерьде болған."})
    assert refused.value.by == "Aigerim" and refused.value.revision == 1
    assert refused.value.current["text"] == "Ол лагерьде екі жыл болды."
    assert (
        transcript.load_current(interview.out_dir).segments[1].text == "Ол лагерьде екі жыл болды."
    )


def test_split_merge_and_retranslate(home, job, reviews, argos_ru, cli):
    assert cli("models", "add", argos_ru).exit_code == 0
    interview = reviews.find(job.interview_id)
    t = reviews.split(interview, "Aigerim", 1, 0, at=0.9, offset=len("Мой брат"))
    assert [(s.id, s.start, s.end, s.text) for s in t.segments[:2]] == [
        (1, 0.0, 0.9, "Мой брат"),
        (5, 0.9, 1.2, "живёт в Алматы."),
    ]
    assert (t.segments[0].english, t.segments[1].english) == ("My brother", "lives in Almaty.")
    t = reviews.merge(interview, "Aigerim", 1, 1, next_revision=0)
    assert [(s.id, s.end, s.text) for s in t.segments[:1]] == [(1, 1.2, "Мой брат живёт в Алматы.")]
    assert [s.id for s in t.segments] == [1, 2, 3, 4]
    assert reviews.audit(job.interview_id, 5)[-1]["action"] == "merged into 1"
    with pytest.raises(Conflict):  # the merged-away segment is gone, not silently re-created
        reviews.save(interview, "Dana", 5, 0, {"text": "x"})

    # Machine English for an edited segment; hand-written English is only replaced when asked.
    t = reviews.save(
        interview,
        "Aigerim",
        3,
        0,
        {"text": "Где сейчас ваш сын?", "english": "Where is your son now?"},
    )
    with pytest.raises(NeedsConfirmation) as asked:
        reviews.retranslate(interview, "Aigerim", 3, 1)
    assert (
        transcript.load_current(interview.out_dir).segments[2].english == "Where is your son now?"
    )
    t = reviews.retranslate(interview, "Aigerim", 3, 1, replace=True)
    assert t.segments[2].english == asked.value.proposed
    assert reviews.audit(job.interview_id, 3)[-1]["action"] == "machine translation"
    t = reviews.save(interview, "Aigerim", 1, 2, {"text": "Мой брат живёт в Астане."})
    t = reviews.retranslate(interview, "Aigerim", 1, 3)  # machine English: no question asked
    assert t.segments[0].english is not None


# The review server ------------------------------------------------------------------------


def test_two_reviewers_second_stale_save_refused_over_http(home, job, server):
    path = f"/api/interviews/{job.interview_id}"
    status, _, body = call(server, "GET", path)
    assert status == 200
    seen = json.loads(body)["segments"][1]
    assert (seen["id"], seen["revision"]) == (2, 0)
    status, _, _ = call(
        server,
        "POST",
        f"{path}/segments/2",
        {"reviewer": "Aigerim", "revision": 0, "changes": {"english": "He was in the camp."}},
    )
    assert status == 200
    status, _, body = call(
        server,
        "POST",
        f"{path}/segments/2",
        {"reviewer": "Dana", "revision": 0, "changes": {"english": "He was in a camp."}},
    )
    assert status == 409
    conflict = json.loads(body)["conflict"]
    assert conflict["by"] == "Aigerim" and conflict["current"]["english"] == "He was in the camp."
    assert (
        transcript.load_current(output_dir(home, job)).segments[1].english == "He was in the camp."
    )


def test_requests_without_the_token_are_refused(home, job, server):
    for path in (
        "/",
        f"/interviews/{job.interview_id}",
        "/api/interviews",
        f"/media/{job.interview_id}",
    ):
        assert call(server, "GET", path, token=False)[0] == 401, path
    assert call(server, "GET", "/?token=wrong", token=False)[0] == 403
    status, _, _ = call(
        server,
        "POST",
        f"/api/interviews/{job.interview_id}/segments/1",
        {"reviewer": "x", "revision": 0, "changes": {"text": "x"}},
        token=False,
    )
    assert status == 401
    assert not (output_dir(home, job) / transcript.REVIEWED_FILE).exists()

    # The printed URL sets a same-site session cookie, which then opens everything.
    status, headers, _ = call(server, "GET", f"/?token={server.token}", token=False)
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    status, _, body = call(
        server, "GET", "/api/interviews", token=False, headers={"Cookie": cookie.split(";")[0]}
    )
    assert status == 200 and json.loads(body)[0]["interview_id"] == job.interview_id
    # The old /i/<id> addresses lead to the new ones.
    status, headers, _ = call(server, "GET", f"/i/{job.interview_id}")
    assert status == 301 and headers["Location"] == f"/interviews/{job.interview_id}"
    # A page served under another host name (DNS rebinding) is refused even with the token.
    assert (
        call(server, "GET", "/api/interviews", headers={"Host": f"evil.example:{server.port}"})[0]
        == 400
    )


def test_path_traversal_is_refused(home, job, server):
    for path in (
        "/static/../../edits.py",
        "/static/%2e%2e/%2e%2e/store.py",
        "/static/..%2f..%2fconfig.py",
        "/static/%2fetc%2fpasswd",
        f"/media/..%2f..%2f{home.database.name}",
        "/media/../testimony.db",
        f"/api/interviews/..%2f..%2f{home.database.name}",
    ):
        status, _, body = call(server, "GET", path)
        assert status in (403, 404), path
        assert b"SQLite" not in body and b"import" not in body
    # Even a database entry pointing outside the evidence store is not served.
    db = Store(home.database)
    db.db.execute(
        "UPDATE originals SET evidence_path=? WHERE sha256=?", (str(home.database), job.sha256)
    )
    assert call(server, "GET", f"/media/{job.interview_id}")[0] == 403


def test_media_is_served_with_ranges(home, job, server):
    original = job.evidence_path and open(job.evidence_path, "rb").read()
    status, headers, body = call(
        server, "GET", f"/media/{job.interview_id}", headers={"Range": "bytes=100-199"}
    )
    assert status == 206 and body == original[100:200]
    assert (
        headers["Content-Range"] == f"bytes 100-199/{len(original)}"
        and headers["Content-Type"] == "video/mp4"
    )
    status, _, body = call(server, "GET", f"/media/{job.interview_id}")
    assert status == 200 and body == original


def test_cross_site_posts_are_refused(home, job, server):
    """A browser holding the session cookie but not the page's CSRF token cannot post (asgi-csrf)."""
    status, headers, _ = call(server, "GET", f"/?token={server.token}", token=False)
    session = headers["Set-Cookie"].split(";")[0]
    status, headers, page = call(server, "GET", "/", token=False, headers={"Cookie": session})
    csrf = next(
        c.split(";")[0] for c in headers.get_all("Set-Cookie") if c.startswith("testimony-csrf-")
    )
    token = page.decode().split('name="csrf-token" content="')[1].split('"')[0]
    cookies = {"Cookie": f"{session}; {csrf}"}
    path = f"/api/interviews/{job.interview_id}/segments/1"
    edit = {"reviewer": "x", "revision": 0, "changes": {"text": "forged"}}
    assert call(server, "POST", path, edit, token=False, headers=cookies)[0] == 403
    form = {**cookies, "Content-Type": "application/x-www-form-urlencoded"}
    assert call(server, "POST", path, edit, token=False, headers=form)[0] == 403
    assert not (output_dir(home, job) / transcript.REVIEWED_FILE).exists()
    assert (
        call(server, "POST", path, edit, token=False, headers={**cookies, "X-CSRFToken": token})[0]
        == 200
    )


def test_the_log_names_requests_not_words(home, job, server, caplog):
    caplog.set_level(logging.INFO)
    assert (
        call(server, "GET", f"/?token={server.token}", token=False)[0] == 303
    )  # the token is in the URL
    secret = "Менің ұлым Құлжада жоғалды"
    status, _, _ = call(
        server,
        "POST",
        f"/api/interviews/{job.interview_id}/segments/1",
        {"reviewer": "Aigerim", "revision": 0, "changes": {"text": secret}},
    )
    assert status == 200
    assert job.interview_id in caplog.text and "segments/1" in caplog.text
    assert (
        secret not in caplog.text
        and "Алматы" not in caplog.text
        and server.token not in caplog.text
    )
    status, _, body = call(server, "GET", f"/api/interviews/{job.interview_id}/segments/1/audit")
    assert json.loads(body)[-1]["after"] == secret
