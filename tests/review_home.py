"""The review tests' shared home: one interview made by the real pipeline (tiny Whisper
model) per test module, its segments replaced with readable ones and published by the
pipeline's own publish(), so that tests can name what a reviewer would see. Each test starts
from that published state with no review yet. Used by test_review.py and
test_review_speakers.py.
"""

import http.client
import json

import pytest
from typer.testing import CliRunner

from pipeline import config, models, transcript
from pipeline.cli import app as main_app
from pipeline.outbox import output_dir
from pipeline.review.cli import app as review_app
from pipeline.review.edits import Reviews
from pipeline.review.textfile import ERRORS_FILE, write_review_file
from pipeline.runner import publish
from pipeline.store import Store

from conftest import FAST_SETTINGS

SEGMENTS = [
    transcript.Segment(
        1, 0.0, 1.2, "ru", "Мой брат живёт в Алматы.", "My brother lives in Almaty."
    ),
    transcript.Segment(
        2,
        1.2,
        2.4,
        "kk",
        "Ол лагерьде болды.",
        None,
        avg_logprob=-1.4,
        flags=["low confidence", transcript.MISSING_TRANSLATION_FLAG],
    ),
    transcript.Segment(3, 2.4, 3.6, "ru", "Где ваш сын?", "Where is your son?"),
    transcript.Segment(
        4,
        3.6,
        4.9,
        "ru",
        "Его забрали в две тысячи восемнадцатом году.",
        None,
        flags=[transcript.MISSING_TRANSLATION_FLAG],
    ),
]


def new_home(root, checkpoint) -> config.Settings:
    root.mkdir()
    (root / config.SETTINGS_FILE).write_text(FAST_SETTINGS)
    settings = config.load(root)
    settings.ensure_dirs()
    models.add_model(settings, checkpoint)
    return settings


def process(settings, video, case="KZ-7"):
    result = CliRunner().invoke(
        main_app,
        ["process", str(video), "--case", case, "--language", "ru"],
        env={"TESTIMONY_HOME": str(settings.home)},
        catch_exceptions=False,
    )
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
    db.executescript(
        "DELETE FROM review_versions; DELETE FROM review_audit; DELETE FROM review_files;"
    )
    db.execute(
        "UPDATE originals SET evidence_path=? WHERE sha256=?", (job.evidence_path, job.sha256)
    )
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


@pytest.fixture
def server(home, review_server):
    return review_server(home)


def call(srv, method, path, body=None, token=True, headers=None):
    conn = http.client.HTTPConnection(
        "127.0.0.1", srv.port, timeout=120
    )  # generous: the machine may be busy
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


# Speakers and words in time ---------------------------------------------------------------


def timed_words(seg):
    """The segment's words, evenly timed over it, as the recognizer would give them."""
    parts = seg.text.split()
    step = (seg.end - seg.start) / len(parts)
    return [
        {
            "start": round(seg.start + i * step, 3),
            "end": round(seg.start + (i + 1) * step, 3),
            "text": word,
            "probability": 0.3 if i == 0 else 0.9,
        }
        for i, word in enumerate(parts)
    ]


def seed_speakers(settings, job):
    """Publish the readable segments labelled S1, S2, S1, S2 and with word times."""
    out = output_dir(settings, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    for seg, label in zip(t.segments, ["S1", "S2", "S1", "S2"]):
        seg.speaker, seg.words = label, timed_words(seg)
    t.speakers = {"model": "resemblyzer VoiceEncoder", "count": 2, "names": {}}
    publish(settings, job, t, json.loads((out / "provenance.json").read_text()))


CLOSE = [{"labels": ["S1", "S2"], "distance": 0.21}]


def seed_close(settings, job):
    """The readable segments labelled S1, S2, S1, S2; the speaker step found S1 and S2 close."""
    seed_speakers(settings, job)
    out = output_dir(settings, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    t.speakers["close"] = CLOSE
    publish(settings, job, t, json.loads((out / "provenance.json").read_text()))
