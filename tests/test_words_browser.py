"""Words in time and speaker names on the review page, in headless Chromium (Playwright)."""

import json

import pytest
from test_review_browser import CHROMIUM, browser, page  # noqa: F401  (the browser fixtures)

from pipeline import transcript
from pipeline.outbox import output_dir

from review_home import new_home, process, seed, seed_close

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium",
)


@pytest.fixture
def served(tmp_path, monkeypatch, tiny_checkpoint, speech_video, review_server):
    home = new_home(tmp_path / "home", tiny_checkpoint)
    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    job = process(home, speech_video)
    seed(home, job)
    seed_close(home, job)  # S1 and S2 labelled, their voices found close
    return home, job, review_server(home)


def test_words_follow_playback_seek_on_click_and_speakers_are_renamed_and_merged(served, page):  # noqa: F811
    home, job, server = served
    page.goto(server.url)
    page.fill("#name-input", "Aigerim")
    page.click("#name-form button")
    page.locator("table.list tr", has_text=job.interview_id).locator("a").click()
    page.wait_for_selector('article.seg[data-id="3"] p.words .w')
    seg3 = page.locator('article.seg[data-id="3"]')
    assert seg3.locator("p.words .w").all_inner_texts() == ["Где", "ваш", "сын?"]
    assert seg3.locator("p.words .w.low").all_inner_texts() == [
        "Где"
    ]  # the model doubted it: underlined

    # Clicking a word plays from it; the word being spoken is highlighted.
    seg3.locator("p.words .w", has_text="сын?").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#player');"
        " return !v.paused && v.currentTime >= 3.19; }"
    )
    page.evaluate(
        "() => { const v = document.querySelector('#player'); v.pause(); v.currentTime = 2.9; }"
    )
    page.wait_for_function(
        "() => document.querySelector('#segments .w.now')?.textContent === 'ваш'"
    )
    assert page.locator("#segments .w.now").count() == 1

    # Renaming S1 once names it in every segment, as one audited edit.
    page.once("dialog", lambda dialog: dialog.accept("Interviewer"))
    page.click('#speakers button.rename[data-speaker="S1"]')
    page.wait_for_function(
        "() => [...document.querySelectorAll('input.speaker')].map(i => i.value).join()"
        " === 'Interviewer,S2,Interviewer,S2'"
    )
    assert page.locator("#speakers button.rename").all_inner_texts() == ["Interviewer", "S2"]
    t = transcript.load(output_dir(home, job) / transcript.REVIEWED_FILE)
    assert [s.speaker for s in t.segments] == ["Interviewer", "S2", "Interviewer", "S2"]

    # Editing the text so the words no longer spell it takes the word line away.
    src = seg3.locator("textarea.src")
    src.fill("Где сейчас ваш сын?")
    page.wait_for_function(
        "() => document.querySelector('article.seg[data-id=\"3\"] .seg-state')"
        ".textContent === 'saved'"
    )
    page.wait_for_selector('article.seg[data-id="3"] p.words[hidden]', state="attached")
    assert (
        json.loads((output_dir(home, job) / transcript.REVIEWED_FILE).read_text())["segments"][2][
            "words"
        ]
        == []
    )

    # S1 and S2 were found close: the page offers merging them (under S1's new name), one click.
    offer = page.locator("#speaker-merge button.merge-speakers")
    assert offer.all_inner_texts() == ["Merge S2 into Interviewer"]
    page.once("dialog", lambda dialog: dialog.accept())
    offer.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('input.speaker')].map(i => i.value).join()"
        " === 'Interviewer,Interviewer,Interviewer,Interviewer'"
    )
    assert page.locator("#speaker-merge").is_hidden()
    t = transcript.load(output_dir(home, job) / transcript.REVIEWED_FILE)
    assert t.speakers["merged"] == [{"from": "S2", "into": "Interviewer"}]
