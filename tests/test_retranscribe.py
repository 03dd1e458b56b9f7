"""Transcribing an interview again: the old transcript kept as a version, a reviewer's work kept
with the new machine text offered beside it, custody recorded (tiny model, real pipeline)."""

import http.client
import json
from pathlib import Path

from pipeline import models, versions
from pipeline import transcript as tr
from pipeline.outbox import output_dir
from pipeline.review import suggestions
from pipeline.review.edits import Reviews
from pipeline.review.textfile import write_review_file
from pipeline.store import Store

from builders import tiny_whisper_checkpoint


def test_retranscribe_keeps_reviewed_text_and_offers_the_new_beside_it(
    home, cli, speech_video, tmp_path, review_server
):
    first = cli("process", speech_video, "--case", "KZ-9", "--language", "ru")
    assert first.exit_code == 0, first.output
    store = Store(home.database)
    [job] = store.jobs("done")
    out = output_dir(home, job)
    machine_before = tr.load(out / tr.MACHINE_FILE)
    assert machine_before.segments, "the tiny model heard nothing"

    reviews = Reviews(home)
    interview = reviews.find(job.interview_id)
    t = reviews.open(interview)
    kept_id, other_ids = t.segments[0].id, [s.id for s in t.segments[1:]]
    reviews.save(
        interview, "Aigerim", kept_id, 0, {"text": "Менің ағам қалада тұрады.", "reviewed": True}
    )
    write_review_file(reviews, interview)
    reviews.close()

    # Another model and another language: a machine text that differs from the reviewed one.
    models.add_model(home, tiny_whisper_checkpoint(tmp_path / "other.pt", seed=1), name="tiny2")
    again = cli("retranscribe", job.interview_id, "--language", "kk", "--model", "tiny2")
    assert again.exit_code == 0, again.output
    assert "made with tiny" in again.output

    job = store.job(job.id)
    assert job.state == "done" and job.language == "kk" and "retranscribe" not in job.meta
    [kept] = versions.listing(out)
    assert kept.number == 1 and kept.made.name == "tiny" and kept.made.options["language"] == "ru"
    assert tr.load(out / "versions" / "1" / tr.MACHINE_FILE).to_json() == machine_before.to_json()
    assert (
        tr.load(out / "versions" / "1" / tr.REVIEWED_FILE).segments[0].text
        == "Менің ағам қалада тұрады."
    )
    assert versions.made_by(out).name == "tiny2" and versions.current_number(out) == 2

    machine = tr.load(out / tr.MACHINE_FILE)
    reviewed = tr.load(out / tr.REVIEWED_FILE)
    [mine] = [s for s in reviewed.segments if s.id == kept_id]
    assert mine.text == "Менің ағам қалада тұрады." and mine.reviewed  # the reviewer's work is kept
    assert not set(other_ids) & {
        s.id for s in reviewed.segments
    }  # the rest took the new text, new IDs
    offered = suggestions.load(out)
    assert set(offered) == {kept_id}
    middle = (mine.start + mine.end) / 2
    heard = " ".join(
        s.text for s in machine.segments if mine.start <= (s.start + s.end) / 2 <= mine.end
    )
    assert offered[kept_id].text == heard and offered[kept_id].version == 2
    assert ["-", "Менің ағам қалада тұрады."] in offered[kept_id].diff and middle
    review_txt = (out / "review.txt").read_text()
    assert f"# new machine text (version 2, {versions.made_by(out).label})" in review_txt
    assert "# differences from the text below: [-Менің ағам қалада тұрады.-]" in review_txt

    # The page's API says the same, for the page's suggestions.js to draw.
    srv = review_server(home)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
    conn.request(
        "GET",
        f"/api/interviews/{job.interview_id}/suggestions",
        headers={"Host": f"127.0.0.1:{srv.port}", "X-Testimony-Token": srv.token},
    )
    page = json.loads(conn.getresponse().read())
    assert page["version"] == 2 and page["transcribed_with"] == versions.made_by(out).label
    assert page["earlier"][0]["model"] == kept.made.label
    assert page["suggestions"][str(kept_id)]["diff"] == offered[kept_id].diff

    # Custody: who asked, and the old and new model hashes and options in one entry.
    events = [e for e in store.events(job.interview_id)]
    asked = [json.loads(e["detail"]) for e in events if e["kind"] == "retranscribe requested"]
    assert asked == [
        {"by": asked[0]["by"], "model": "tiny2", "language": "kk", "previous_language": "ru"}
    ]
    done = json.loads([e for e in events if e["kind"] == "processed"][-1]["detail"])
    again_info = done["retranscription"]
    assert again_info["previous"]["model_sha256"] == kept.made.sha256 != done["model_sha256"]
    assert (
        again_info["previous"]["options"]["language"] == "ru"
        and done["options"]["language"] == "kk"
    )
    assert again_info["version_kept"] == 1 and again_info["review"]["kept"] == [kept_id]
    history = cli("custody", job.interview_id).output
    assert "transcribed again with" in history and "kept as version 1" in history

    status = cli("status").output
    assert f"[{versions.made_by(out).label}, v2]" in status
    outdated = cli("retranscribe", "--all", "--outdated", "--dry-run").output
    assert "1 of 1 to transcribe again (dry run)" in outdated  # tiny2 is not the settings' model
    started = cli("retranscribe", "--all", "--unreviewed-only", "--dry-run").output
    assert "left as it is: review started" in started and "0 of 1" in started
    with open(out / "review.txt", "a", encoding="utf-8") as fh:  # edits not imported yet
        fh.write("\n")
    waiting = cli("retranscribe", job.interview_id, "--dry-run").output
    assert "edits not imported yet" in waiting and "testimony review import" in waiting
    store.close()


def _segments(*rows) -> list[tr.Segment]:
    return [
        tr.Segment(n, start, end, "kk", text, english)
        for n, (start, end, text, english) in enumerate(rows, 1)
    ]


def test_carry_keeps_edited_and_reviewed_segments_and_retires_the_rest(
    home, cli, speech_video, review_server
):
    """The review carried over by time: kept segments, suggestions, new IDs, a stale save refused."""
    from pipeline.review import rebase
    from pipeline.review.edits import Conflict
    from pipeline.runner import publish

    assert cli("process", speech_video, "--case", "KZ-8", "--language", "kk").exit_code == 0
    store = Store(home.database)
    [job] = store.jobs("done")
    out = output_dir(home, job)
    provenance = json.loads((out / "provenance.json").read_text())
    machine = tr.load(out / tr.MACHINE_FILE)
    machine.segments = _segments(
        (0.0, 1.2, "Ағам қалада.", "My brother is in town."),
        (1.2, 2.4, "Ол лагерьде болды.", None),
        (2.4, 3.6, "Хабар жоқ.", "No news."),
        (3.6, 4.9, "Көршілер үндемейді.", None),
    )
    publish(home, job, machine, provenance)

    reviews = Reviews(home)
    interview = reviews.find(job.interview_id)
    reviews.open(interview)
    reviews.save(interview, "Aigerim", 1, 0, {"text": "Ағам қалада тұрады.", "reviewed": True})
    reviews.save(
        interview, "Aigerim", 3, 0, {"english": "There is no news."}
    )  # edited, not reviewed
    reviews.set_status(interview, "Aigerim", "reviewed")

    kept_version = versions.keep(out)
    machine.segments = _segments(
        (0.0, 1.2, "Менің ағам қалада тұрады.", "My brother lives in town."),
        (1.2, 2.4, "Ол лагерде болды.", "He was in a camp."),
        (2.4, 3.5, "Хабар жоқ.", "No news."),  # same as the reviewed text
        (3.5, 4.9, "Көршілер ештеңе айтпайды.", "The neighbours say nothing."),
    )
    publish(home, job, machine, provenance)
    carried = rebase.carry(reviews, interview, kept_version)

    assert carried.kept == [1, 3] and carried.suggested == [1] and carried.retired == 2
    t = tr.load(out / tr.REVIEWED_FILE)
    by_id = {s.id: s for s in t.segments}
    assert by_id[1].text == "Ағам қалада тұрады." and by_id[1].reviewed
    assert by_id[3].english == "There is no news." and by_id[3].text == "Хабар жоқ."
    new = [s for s in t.segments if s.id not in (1, 3)]
    assert [s.text for s in new] == ["Ол лагерде болды.", "Көршілер ештеңе айтпайды."]
    assert all(s.id > 4 for s in new) and new[0].english == "He was in a camp."
    assert t.review["status"] == "in_progress"  # new machine text is not reviewed text
    offered = suggestions.load(out)[1]
    assert offered.text == "Менің ағам қалада тұрады." and offered.version == 2
    assert offered.diff == [["-", "Ағам"], ["+", "Менің ағам"], ["=", "қалада тұрады."]]
    try:  # a page still showing the old segment 2 cannot save over the new text
        reviews.save(interview, "Aigerim", 2, 0, {"text": "stale"})
        raise AssertionError("a save to a retired segment was accepted")
    except Conflict:
        pass
    reviews.close()
    store.close()
    if CHROMIUM.exists():  # the page draws it: suggestions.js, in headless Chromium
        shown = _page_text(review_server(home), job.interview_id)
        assert "version 2" in shown["banner"] and kept_version.made.label in shown["banner"]
        assert shown["suggestions"] == {"1": offered.text}
        assert shown["struck"] == ["Ағам"] and shown["added"] == ["Менің ағам"]


CHROMIUM = Path("/usr/bin/chromium")


def _page_text(server, interview_id: str) -> dict:
    """What the review page shows of the transcript's model and the suggestions."""
    from playwright.sync_api import sync_playwright
    from test_review_browser import ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(120_000)  # generous: the machine may be busy
            page.goto(server.url)
            page.fill("#name-input", "Aigerim")  # asked once per browser in single-token mode
            page.click("#name-form button")
            # The name is kept when the dialog's close event runs, after the click returns: a
            # page opened before then asks for it again, and never draws the interview.
            page.wait_for_selector("#who:has-text('Aigerim')")
            page.goto(f"{server.base}/interviews/{interview_id}")
            page.wait_for_selector("article.seg aside.suggestion")
            return {
                "banner": page.inner_text("#transcribed-with"),
                "suggestions": page.eval_on_selector_all(
                    "article.seg",
                    "els => Object.fromEntries(els.filter(e => e.querySelector("
                    "'.suggestion')).map(e => [e.dataset.id, "
                    "e.querySelector('.suggestion-text').textContent]))",
                ),
                "struck": page.eval_on_selector_all(
                    "aside.suggestion del", "els => els.map(e => e.textContent)"
                ),
                "added": page.eval_on_selector_all(
                    "aside.suggestion ins", "els => els.map(e => e.textContent)"
                ),
            }
        finally:
            browser.close()


def test_a_stopped_retranscription_resumes_and_moves_the_old_subtitles_into_its_version(
    home, cli, speech_video
):
    """A retranscription whose process was killed is taken back by the next command (no
    watcher needed), resumed as requested, and the old language's subtitles end in versions/1."""
    import socket
    import subprocess
    import sys

    from pipeline import retranscribe as again

    first = cli("process", speech_video, "--case", "KZ-9", "--language", "ru")
    assert first.exit_code == 0, first.output
    store = Store(home.database)
    [job] = store.jobs("done")
    again.request(store, job, "kk", None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.update(job.id, state="running", owner=f"{socket.gethostname()}:{dead.pid}")

    resumed = cli("retranscribe", job.interview_id)
    assert resumed.exit_code == 0, resumed.output
    assert "queued again" in resumed.output
    assert "resuming its interrupted retranscription" in resumed.output
    done = store.job(job.id)
    assert done.state == "done" and done.language == "kk"
    out = output_dir(home, job)
    [kept] = versions.listing(out)
    assert {"transcript.ru.srt", "transcript.ru.vtt"} <= set(kept.files)
    assert (out / "versions" / "1" / "transcript.ru.srt").exists()
    assert sorted(p.name for p in out.glob("transcript.*.*t")) == [
        "transcript.kk.srt",
        "transcript.kk.vtt",
    ]
    kinds = [e["kind"] for e in store.events(job.interview_id)]
    assert kinds.count("retranscribe requested") == 1 and "requeued" in kinds
    store.close()
