"""Review: the plain-text file, stale saves, pipeline re-runs and the review server's gates.

The interview is made once per module by the real pipeline (tiny Whisper model); its
segments are then replaced with readable ones and published by the pipeline's own publish(),
so the tests can name what a reviewer would see. Each test starts from that published state
with no review yet.
"""

import http.client
import json
import logging

import pytest
from typer.testing import CliRunner

from pipeline import config, models, transcript
from pipeline.cli import app as main_app
from pipeline.outbox import output_dir
from pipeline.review.cli import app as review_app
from pipeline.review.edits import Conflict, NeedsConfirmation, Reviews
from pipeline.review.reviewfile import close_speakers
from pipeline.review.textfile import ERRORS_FILE, parse, write_review_file
from pipeline.runner import publish
from pipeline.store import Store

from conftest import FAST_SETTINGS

SEGMENTS = [
    transcript.Segment(1, 0.0, 1.2, "ru", "Мой брат живёт в Алматы.", "My brother lives in Almaty."),
    transcript.Segment(2, 1.2, 2.4, "kk", "Ол лагерьде болды.", None, avg_logprob=-1.4,
                       flags=["low confidence", transcript.MISSING_TRANSLATION_FLAG]),
    transcript.Segment(3, 2.4, 3.6, "ru", "Где ваш сын?", "Where is your son?"),
    transcript.Segment(4, 3.6, 4.9, "ru", "Его забрали в две тысячи восемнадцатом году.", None,
                       flags=[transcript.MISSING_TRANSLATION_FLAG]),
]


def new_home(root, checkpoint) -> config.Settings:
    root.mkdir()
    (root / config.SETTINGS_FILE).write_text(FAST_SETTINGS)
    settings = config.load(root)
    settings.ensure_dirs()
    models.add_model(settings, checkpoint)
    return settings


def process(settings, video, case="KZ-7"):
    result = CliRunner().invoke(main_app, ["process", str(video), "--case", case, "--language", "ru"],
                                env={"TESTIMONY_HOME": str(settings.home)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    store = Store(settings.database)
    [job] = [j for j in store.jobs("done") if j.case_id == case]
    store.close()
    return job


def seed(settings, job):
    """Publish readable segments for a processed interview, as the pipeline would write them."""
    out = output_dir(settings, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    t.segments = [transcript.Segment(**{**s.__dict__, "flags": list(s.flags)}) for s in SEGMENTS]
    publish(settings, job, t, json.loads((out / "provenance.json").read_text()))


@pytest.fixture(scope="module")
def processed(tmp_path_factory, tiny_checkpoint, speech_video):
    settings = new_home(tmp_path_factory.mktemp("review") / "home", tiny_checkpoint)
    return settings, process(settings, speech_video)


@pytest.fixture
def home(processed, monkeypatch):
    """The module's home folder, its interview freshly published and not reviewed yet."""
    settings, job = processed
    monkeypatch.setenv("TESTIMONY_HOME", str(settings.home))
    out = output_dir(settings, job)
    for name in (transcript.REVIEWED_FILE, "review.txt", ERRORS_FILE):
        (out / name).unlink(missing_ok=True)
    db = Reviews(settings).db
    db.executescript("DELETE FROM review_versions; DELETE FROM review_audit; DELETE FROM review_files;")
    db.execute("UPDATE originals SET evidence_path=? WHERE sha256=?", (job.evidence_path, job.sha256))
    db.close()
    seed(settings, job)
    return settings


@pytest.fixture
def job(home, processed):
    return processed[1]


@pytest.fixture
def reviews(home):
    r = Reviews(home)
    yield r
    r.close()


def review_cli(*args):
    return CliRunner().invoke(review_app, [str(a) for a in args], catch_exceptions=False)


def review_file(reviews, job):
    interview = reviews.find(job.interview_id)
    assert write_review_file(reviews, interview)
    return interview.out_dir / "review.txt"


# The plain-text review file ---------------------------------------------------------------

def test_review_file_round_trip(home, job, reviews):
    path = review_file(reviews, job)
    text = path.read_text()
    interview_id, blocks = parse(text, path)
    assert interview_id == job.interview_id
    assert [(b.segment_id, b.fields["text"], b.fields["english"]) for b in blocks] == \
           [(s.id, s.text, s.english) for s in SEGMENTS]
    assert "# flags: low confidence, translation missing" in text
    machine = (path.parent / transcript.MACHINE_FILE).read_bytes()

    edited = (text.replace("Ол лагерьде болды.", "Ол екі жыл лагерьде болды.\nСосын босатылды.")
                  .replace("english:\n\n", "english:\nHe was in the camp for two years.\nThen he was released.\n", 1)
                  .replace("language: kk\nspeaker:\nreviewed: no", "language: kk\nspeaker: mother\nreviewed: yes"))
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
    assert reviewed.review["status"] == "in_progress" and reviewed.review["reviewers"] == ["Aigerim"]
    assert [s.text for s in reviewed.segments[::2]] == [SEGMENTS[0].text, SEGMENTS[2].text]
    assert (path.parent / transcript.MACHINE_FILE).read_bytes() == machine  # machine output untouched

    # The file is rewritten at the new revision, and importing it again changes nothing.
    assert "=== segment 2 | 00:00:01.200 --> 00:00:02.400 | rev 1" in path.read_text()
    assert parse(path.read_text(), path)[1][1].fields["text"] == seg.text
    again = review_cli("import", path, "--reviewer", "Aigerim")
    assert again.exit_code == 0 and "segment(s) none" in again.output

    audit = reviews.audit(job.interview_id, 2)
    assert {(a["field"], a["before"], a["after"], a["reviewer"]) for a in audit} >= {
        ("text", "Ол лагерьде болды.", seg.text, "Aigerim"), ("english", None, seg.english, "Aigerim"),
        ("speaker", None, "mother", "Aigerim"), ("reviewed", False, True, "Aigerim")}
    edits = [json.loads(e["detail"]) for e in Store(home.database).events(job.interview_id) if e["kind"] == "edit"]
    assert {(e["reviewer"], e["segment"], e["field"]) for e in edits} >= {("Aigerim", 2, "text"), ("Aigerim", 2, "english")}
    assert not any(seg.text in json.dumps(e, ensure_ascii=False) for e in edits)  # events name fields, not words


def test_malformed_review_file_is_refused_with_its_line_and_nothing_is_lost(home, job, reviews):
    interview = reviews.find(job.interview_id)
    t = reviews.save(interview, "Aigerim", 3, 0, {"english": "Where is your son now?"})  # saved before
    path = review_file(reviews, job)
    saved = (path.parent / transcript.REVIEWED_FILE).read_bytes()

    lines = path.read_text().splitlines()
    lines[lines.index("Мой брат живёт в Алматы.")] = "Менің ағам Алматыда тұрады."  # a good edit ...
    bad = lines.index("language: kk")
    lines[bad] = "language: kz"                                                     # ... and a typo
    english = [n for n, line in enumerate(lines) if line == "english:"][2]
    del lines[english]                                                              # and a lost line
    path.write_text("\n".join(lines) + "\n")
    person = path.read_bytes()

    result = review_cli("import", path, "--reviewer", "Aigerim")
    assert result.exit_code == 1
    assert f"review.txt line {bad + 1}: language 'kz' is not one of kk, ky, ru" in result.output
    block3 = lines.index("=== segment 3 | 00:00:02.400 --> 00:00:03.600 | rev 1") + 1
    assert f"review.txt line {block3}: segment 3 has no english: line" in result.output
    assert "nothing was changed" in result.output
    assert (path.parent / transcript.REVIEWED_FILE).read_bytes() == saved  # the earlier edit is kept
    assert path.read_bytes() == person                                      # the person's file is kept
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
    assert f"line {line}: segment 2 was changed by Dana" in result.output and "write 'rev 1' here" in result.output
    assert transcript.load_current(path.parent).segments[1].text == "Ол үш жыл лагерьде болды."


# Edits kept apart from machine output -------------------------------------------------------

def test_rerunning_the_pipeline_keeps_human_edits(tmp_path, monkeypatch, tiny_checkpoint, speech_video, cli,
                                                  argos_ru):
    home = new_home(tmp_path / "home", tiny_checkpoint)
    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    job = process(home, speech_video)
    seed(home, job)
    reviews = Reviews(home)
    interview = reviews.find(job.interview_id)
    reviews.save(interview, "Aigerim", 1, 0, {"text": "Мой старший брат живёт в Алматы.", "english": "My elder brother."})

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
    assert current.segments[3].english is not None and current.segments[1].english is None  # no kk package


def test_a_stale_save_is_refused_with_the_other_version(home, job, reviews):
    interview = reviews.find(job.interview_id)
    reviews.save(interview, "Aigerim", 2, 0, {"text": "Ол лагерьде екі жыл болды."})
    with pytest.raises(Conflict) as refused:
        reviews.save(interview, "Dana", 2, 0, {"text": "Ол лагерьде болған."})
    assert refused.value.by == "Aigerim" and refused.value.revision == 1
    assert refused.value.current["text"] == "Ол лагерьде екі жыл болды."
    assert transcript.load_current(interview.out_dir).segments[1].text == "Ол лагерьде екі жыл болды."


def test_split_merge_and_retranslate(home, job, reviews, argos_ru, cli):
    assert cli("models", "add", argos_ru).exit_code == 0
    interview = reviews.find(job.interview_id)
    t = reviews.split(interview, "Aigerim", 1, 0, at=0.9, offset=len("Мой брат"))
    assert [(s.id, s.start, s.end, s.text) for s in t.segments[:2]] == [
        (1, 0.0, 0.9, "Мой брат"), (5, 0.9, 1.2, "живёт в Алматы.")]
    assert (t.segments[0].english, t.segments[1].english) == ("My brother", "lives in Almaty.")
    t = reviews.merge(interview, "Aigerim", 1, 1, next_revision=0)
    assert [(s.id, s.end, s.text) for s in t.segments[:1]] == [(1, 1.2, "Мой брат живёт в Алматы.")]
    assert [s.id for s in t.segments] == [1, 2, 3, 4]
    assert reviews.audit(job.interview_id, 5)[-1]["action"] == "merged into 1"
    with pytest.raises(Conflict):  # the merged-away segment is gone, not silently re-created
        reviews.save(interview, "Dana", 5, 0, {"text": "x"})

    # Machine English for an edited segment; hand-written English is only replaced when asked.
    t = reviews.save(interview, "Aigerim", 3, 0, {"text": "Где сейчас ваш сын?", "english": "Where is your son now?"})
    with pytest.raises(NeedsConfirmation) as asked:
        reviews.retranslate(interview, "Aigerim", 3, 1)
    assert transcript.load_current(interview.out_dir).segments[2].english == "Where is your son now?"
    t = reviews.retranslate(interview, "Aigerim", 3, 1, replace=True)
    assert t.segments[2].english == asked.value.proposed
    assert reviews.audit(job.interview_id, 3)[-1]["action"] == "machine translation"
    t = reviews.save(interview, "Aigerim", 1, 2, {"text": "Мой брат живёт в Астане."})
    t = reviews.retranslate(interview, "Aigerim", 1, 3)  # machine English: no question asked
    assert t.segments[0].english is not None


# The review server ------------------------------------------------------------------------

@pytest.fixture
def server(home, review_server):
    return review_server(home)


def call(srv, method, path, body=None, token=True, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)  # generous: the machine may be busy
    sent = {"Host": f"127.0.0.1:{srv.port}"}
    if token:
        sent["X-Testimony-Token"] = srv.token
    if body is not None:
        sent["Content-Type"] = "application/json"
        body = json.dumps(body)
    sent.update(headers or {})
    conn.request(method, path, body=body, headers=sent)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, reply.headers, data


def test_two_reviewers_second_stale_save_refused_over_http(home, job, server):
    path = f"/api/interviews/{job.interview_id}"
    status, _, body = call(server, "GET", path)
    assert status == 200
    seen = json.loads(body)["segments"][1]
    assert (seen["id"], seen["revision"]) == (2, 0)
    status, _, _ = call(server, "POST", f"{path}/segments/2", {"reviewer": "Aigerim", "revision": 0,
                                                                "changes": {"english": "He was in the camp."}})
    assert status == 200
    status, _, body = call(server, "POST", f"{path}/segments/2", {"reviewer": "Dana", "revision": 0,
                                                                   "changes": {"english": "He was in a camp."}})
    assert status == 409
    conflict = json.loads(body)["conflict"]
    assert conflict["by"] == "Aigerim" and conflict["current"]["english"] == "He was in the camp."
    assert transcript.load_current(output_dir(home, job)).segments[1].english == "He was in the camp."


def test_requests_without_the_token_are_refused(home, job, server):
    for path in ("/", f"/interviews/{job.interview_id}", "/api/interviews", f"/media/{job.interview_id}"):
        assert call(server, "GET", path, token=False)[0] == 401, path
    assert call(server, "GET", "/?token=wrong", token=False)[0] == 403
    status, _, _ = call(server, "POST", f"/api/interviews/{job.interview_id}/segments/1",
                        {"reviewer": "x", "revision": 0, "changes": {"text": "x"}}, token=False)
    assert status == 401
    assert not (output_dir(home, job) / transcript.REVIEWED_FILE).exists()

    # The printed URL sets a same-site session cookie, which then opens everything.
    status, headers, _ = call(server, "GET", f"/?token={server.token}", token=False)
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    status, _, body = call(server, "GET", "/api/interviews", token=False, headers={"Cookie": cookie.split(";")[0]})
    assert status == 200 and json.loads(body)[0]["interview_id"] == job.interview_id
    # The old /i/<id> addresses lead to the new ones.
    status, headers, _ = call(server, "GET", f"/i/{job.interview_id}")
    assert status == 301 and headers["Location"] == f"/interviews/{job.interview_id}"
    # A page served under another host name (DNS rebinding) is refused even with the token.
    assert call(server, "GET", "/api/interviews", headers={"Host": f"evil.example:{server.port}"})[0] == 400


def test_path_traversal_is_refused(home, job, server):
    for path in ("/static/../../edits.py", "/static/%2e%2e/%2e%2e/store.py", "/static/..%2f..%2fconfig.py",
                 "/static/%2fetc%2fpasswd", f"/media/..%2f..%2f{home.database.name}", "/media/../testimony.db",
                 f"/api/interviews/..%2f..%2f{home.database.name}"):
        status, _, body = call(server, "GET", path)
        assert status in (403, 404), path
        assert b"SQLite" not in body and b"import" not in body
    # Even a database entry pointing outside the evidence store is not served.
    db = Store(home.database)
    db.db.execute("UPDATE originals SET evidence_path=? WHERE sha256=?", (str(home.database), job.sha256))
    assert call(server, "GET", f"/media/{job.interview_id}")[0] == 403


def test_media_is_served_with_ranges(home, job, server):
    original = job.evidence_path and open(job.evidence_path, "rb").read()
    status, headers, body = call(server, "GET", f"/media/{job.interview_id}", headers={"Range": "bytes=100-199"})
    assert status == 206 and body == original[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(original)}" and headers["Content-Type"] == "video/mp4"
    status, _, body = call(server, "GET", f"/media/{job.interview_id}")
    assert status == 200 and body == original


def test_cross_site_posts_are_refused(home, job, server):
    """A browser holding the session cookie but not the page's CSRF token cannot post (asgi-csrf)."""
    status, headers, _ = call(server, "GET", f"/?token={server.token}", token=False)
    session = headers["Set-Cookie"].split(";")[0]
    status, headers, page = call(server, "GET", "/", token=False, headers={"Cookie": session})
    csrf = next(c.split(";")[0] for c in headers.get_all("Set-Cookie") if c.startswith("testimony-csrf-"))
    token = page.decode().split('name="csrf-token" content="')[1].split('"')[0]
    cookies = {"Cookie": f"{session}; {csrf}"}
    path = f"/api/interviews/{job.interview_id}/segments/1"
    edit = {"reviewer": "x", "revision": 0, "changes": {"text": "forged"}}
    assert call(server, "POST", path, edit, token=False, headers=cookies)[0] == 403
    form = {**cookies, "Content-Type": "application/x-www-form-urlencoded"}
    assert call(server, "POST", path, edit, token=False, headers=form)[0] == 403
    assert not (output_dir(home, job) / transcript.REVIEWED_FILE).exists()
    assert call(server, "POST", path, edit, token=False, headers={**cookies, "X-CSRFToken": token})[0] == 200


def test_the_log_names_requests_not_words(home, job, server, caplog):
    caplog.set_level(logging.INFO)
    assert call(server, "GET", f"/?token={server.token}", token=False)[0] == 303  # the token is in the URL
    secret = "Менің ұлым Құлжада жоғалды"
    status, _, _ = call(server, "POST", f"/api/interviews/{job.interview_id}/segments/1",
                        {"reviewer": "Aigerim", "revision": 0, "changes": {"text": secret}})
    assert status == 200
    assert job.interview_id in caplog.text and "segments/1" in caplog.text
    assert secret not in caplog.text and "Алматы" not in caplog.text and server.token not in caplog.text
    status, _, body = call(server, "GET", f"/api/interviews/{job.interview_id}/segments/1/audit")
    assert json.loads(body)[-1]["after"] == secret


# Speakers and words in time ---------------------------------------------------------------

def timed_words(seg):
    """The segment's words, evenly timed over it, as the recognizer would give them."""
    parts = seg.text.split()
    step = (seg.end - seg.start) / len(parts)
    return [{"start": round(seg.start + i * step, 3), "end": round(seg.start + (i + 1) * step, 3),
             "text": word, "probability": 0.3 if i == 0 else 0.9} for i, word in enumerate(parts)]


def seed_speakers(settings, job):
    """Publish the readable segments labelled S1, S2, S1, S2 and with word times."""
    out = output_dir(settings, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    for seg, label in zip(t.segments, ["S1", "S2", "S1", "S2"]):
        seg.speaker, seg.words = label, timed_words(seg)
    t.speakers = {"model": "resemblyzer VoiceEncoder", "count": 2, "names": {}}
    publish(settings, job, t, json.loads((out / "provenance.json").read_text()))


def test_renaming_a_speaker_is_one_audited_edit_that_changes_every_segment(home, job, reviews):
    seed_speakers(home, job)
    interview = reviews.find(job.interview_id)
    reviews.open(interview)
    t = reviews.rename_speaker(interview, "Aigerim", "S1", "Interviewer")
    assert [s.speaker for s in t.segments] == ["Interviewer", "S2", "Interviewer", "S2"]
    entries = reviews.audit(job.interview_id)
    assert [(a["segment_id"], a["field"], a["before"], a["after"]) for a in entries
            if a["action"] == "rename speaker"] == [(None, "speaker", "S1", "Interviewer")]
    assert not [a for a in entries if a["field"] == "speaker" and a["segment_id"] is not None]
    revisions = reviews.revisions(job.interview_id)
    assert [revisions[n]["revision"] for n in (1, 2, 3, 4)] == [1, 0, 1, 0]  # each renamed segment changed
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
    t = reviews.save(interview, "Aigerim", 3, 0, {"speaker": "S2", "english": "Where is your son, please?"})
    assert [w["text"] for w in t.segments[2].words] == ["Где", "ваш", "сын?"]  # text untouched: words kept
    t = reviews.save(interview, "Aigerim", 3, 1, {"text": "Где сейчас ваш сын?"})
    assert t.segments[2].words == []  # a new word has no time: none is shown rather than a wrong one
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
    status, _, body = call(server, "POST", f"{path}/speakers", {"reviewer": "Aigerim", "old": "S2", "new": "Witness"})
    assert status == 200, body
    assert [s["speaker"] for s in json.loads(body)["segments"]] == ["S1", "Witness", "S1", "Witness"]
    status, _, body = call(server, "POST", f"{path}/speakers", {"reviewer": "Aigerim", "old": "S7", "new": "X"})
    assert status == 400 and "S7" in json.loads(body)["error"]


# Merging speakers the voice step found close -------------------------------------------

CLOSE = [{"labels": ["S1", "S2"], "distance": 0.21}]


def seed_close(settings, job):
    """The readable segments labelled S1, S2, S1, S2; the speaker step found S1 and S2 close."""
    seed_speakers(settings, job)
    out = output_dir(settings, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    t.speakers["close"] = CLOSE
    publish(settings, job, t, json.loads((out / "provenance.json").read_text()))


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
        (None, "Aigerim", "S2", "S1")]
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
