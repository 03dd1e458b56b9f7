"""The review page end to end in headless Chromium (Debian's package, driven by Playwright).

Set TESTIMONY_SCREENSHOT_DIR to keep the screenshot (docs/review-page.png is made this way).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline import transcript
from pipeline.worker import output_dir, publish

from test_review import new_home, process, seed

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium")


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package: pip install playwright")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


@pytest.fixture
def served(tmp_path, monkeypatch, tiny_checkpoint, speech_video, review_server):
    home = new_home(tmp_path / "home", tiny_checkpoint)
    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    job = process(home, speech_video)
    seed(home, job)
    out = output_dir(home, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    t.warnings = ["tagged Kazakh but 80% of the Kazakh/Kyrgyz speech reads as Kyrgyz: check the language"]
    publish(home, job, t, json.loads((out / "provenance.json").read_text()))
    return home, job, review_server(home)


def saved(page, segment_id):
    """Wait until the page says everything typed into a segment is saved."""
    page.wait_for_function(f"() => document.querySelector('article.seg[data-id=\"{segment_id}\"] .seg-state')"
                           ".textContent === 'saved'")


def test_review_page_end_to_end(served, page, tmp_path):
    home, job, server = served
    page.goto(server.url)  # the printed URL: token -> cookie -> list of interviews

    # The reviewer's name is asked once per browser.
    page.fill("#name-input", "Aigerim")
    page.click("#name-form button")
    row = page.locator("table.list tr", has_text=job.interview_id)
    assert "0/4" in row.inner_text() and "unreviewed" in row.inner_text()
    row.locator("a").click()
    page.wait_for_selector("article.seg")
    assert page.locator("article.seg").count() == 4
    assert "reads as Kyrgyz" in page.locator("p.warning").inner_text()  # the file's language check
    assert page.locator("article.seg.flagged").count() == 2  # low confidence, translation missing

    # Play from segment 3: the video seeks there, plays, and the segment follows playback.
    seg3 = page.locator('article.seg[data-id="3"]')
    seg3.locator("button.time").click()
    page.wait_for_function("() => { const v = document.querySelector('#player');"
                           " return !v.paused && v.currentTime > 2.5; }")
    page.wait_for_selector('article.seg[data-id="3"].playing')
    page.keyboard.press("Escape")  # play / pause, as in oTranscribe
    page.wait_for_function("() => document.querySelector('#player').paused")
    page.keyboard.press("F4")  # faster
    page.wait_for_function("() => document.querySelector('#player').playbackRate === 1.1"
                           " && document.querySelector('#rate').textContent === '1.1×'")

    # F8 jumps to the next flagged segment; edit its source and English; autosave.
    page.locator('article.seg[data-id="1"] textarea.src').focus()
    page.keyboard.press("F8")
    seg2 = page.locator('article.seg[data-id="2"]')
    assert seg2.locator("textarea.src").evaluate("el => el === document.activeElement")
    seg2.locator("textarea.src").fill("Ол екі жыл лагерьде болды.")
    seg2.locator("textarea.en").fill("He was in the camp for two years.")
    saved(page, 2)
    page.keyboard.press("Control+Enter")  # segment reviewed, on to the next
    saved(page, 2)
    assert seg2.get_attribute("class") == "seg reviewed"

    # Reload: the edit is there, kept apart from the machine's transcript.
    page.reload()
    page.wait_for_selector('article.seg[data-id="2"]')
    seg2 = page.locator('article.seg[data-id="2"]')
    assert seg2.locator("textarea.src").input_value() == "Ол екі жыл лагерьде болды."
    assert seg2.locator("textarea.en").input_value() == "He was in the camp for two years."
    assert seg2.locator("input.reviewed").is_checked()
    out = output_dir(home, job)
    assert transcript.load(out / transcript.REVIEWED_FILE).segments[1].english == "He was in the camp for two years."
    assert transcript.load(out / transcript.MACHINE_FILE).segments[1].english is None

    # The audit entry, per segment.
    seg2.locator("button.history").click()
    entry = seg2.locator("tr.audit-entry", has_text="english")
    entry.wait_for()
    assert "Aigerim" in entry.inner_text() and "He was in the camp for two years." in entry.inner_text()
    assert seg2.locator("tr.audit-entry", has_text="Ол екі жыл лагерьде болды.").count() == 1

    seg3.locator("button.time").click()
    page.wait_for_function("() => !document.querySelector('#player').paused")
    page.keyboard.press("Escape")
    shot = tmp_path / "review-page.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("TESTIMONY_SCREENSHOT_DIR"):
        shutil.copyfile(shot, Path(os.environ["TESTIMONY_SCREENSHOT_DIR"]) / "review-page.png")
    assert json.loads(page.evaluate("() => JSON.stringify(localStorage.getItem('testimony-reviewer'))")) == "Aigerim"
