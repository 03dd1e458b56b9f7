"""The review page end to end in headless Chromium (Debian's package, driven by Playwright).

Set TESTIMONY_SCREENSHOT_DIR to keep the screenshot (docs/review-page.png is made this way).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from pipeline import transcript
from pipeline.outbox import output_dir
from pipeline.review.accounts import Accounts
from pipeline.review.edits import Reviews
from pipeline.runner import publish

from review_home import home, job, new_home, process, processed, seed  # noqa: F401  (fixtures)

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium",
)


PASSWORD = "correct horse battery"


@pytest.fixture
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs the playwright package: pip install playwright"
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(120_000)  # generous: the machine may be busy
    return page


@pytest.fixture
def served(tmp_path, monkeypatch, tiny_checkpoint, speech_video, review_server):
    home = new_home(tmp_path / "home", tiny_checkpoint)
    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    job = process(home, speech_video)
    seed(home, job)
    out = output_dir(home, job)
    t = transcript.load(out / transcript.MACHINE_FILE)
    t.warnings = [
        "tagged Kazakh but 80% of the Kazakh/Kyrgyz speech reads as Kyrgyz: check the language"
    ]
    publish(home, job, t, json.loads((out / "provenance.json").read_text()))
    return home, job, review_server(home)


def saved(page, segment_id):
    """Wait until the page says everything typed into a segment is saved (in any interface language)."""
    page.wait_for_selector(f'article.seg[data-id="{segment_id}"][data-state="saved"]')


def test_review_page_end_to_end(served, page, tmp_path):
    home, job, server = served
    refused = []  # what the page's own Content-Security-Policy blocked (an inline style did once)
    page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
    page.goto(server.url)  # the printed URL: token -> cookie -> list of interviews

    # The reviewer's name is asked once per browser.
    page.fill("#name-input", "Aigerim")
    page.click("#name-form button")
    row = page.locator("table.list tr", has_text=job.interview_id)
    assert "0/4" in row.inner_text() and "unreviewed" in row.inner_text()
    assert page.locator(".filters input.count").count() == 1 and not refused, refused
    row.locator("a").click()
    page.wait_for_selector("article.seg")
    assert page.locator("article.seg").count() == 4
    assert "reads as Kyrgyz" in page.locator("p.warning").inner_text()  # the file's language check
    assert page.locator("article.seg.flagged").count() == 2  # low confidence, translation missing

    # Play from segment 3: the video seeks there, plays, and the segment follows playback.
    seg3 = page.locator('article.seg[data-id="3"]')
    seg3.locator("button.time").click()
    page.wait_for_function(
        "() => { const v = document.querySelector('#player');"
        " return !v.paused && v.currentTime > 2.5; }"
    )
    page.wait_for_selector('article.seg[data-id="3"].playing')
    page.keyboard.press("Escape")  # play / pause, as in oTranscribe
    page.wait_for_function("() => document.querySelector('#player').paused")
    page.keyboard.press("F4")  # faster
    page.wait_for_function(
        "() => document.querySelector('#player').playbackRate === 1.1"
        " && document.querySelector('#rate').textContent === '1.1×'"
    )

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
    assert (
        transcript.load(out / transcript.REVIEWED_FILE).segments[1].english
        == "He was in the camp for two years."
    )
    assert transcript.load(out / transcript.MACHINE_FILE).segments[1].english is None

    # The audit entry, per segment.
    seg2.locator("button.history").click()
    entry = seg2.locator("tr.audit-entry", has_text="english")
    entry.wait_for()
    assert (
        "Aigerim" in entry.inner_text()
        and "He was in the camp for two years." in entry.inner_text()
    )
    assert seg2.locator("tr.audit-entry", has_text="Ол екі жыл лагерьде болды.").count() == 1

    seg3.locator("button.time").click()
    page.wait_for_function("() => !document.querySelector('#player').paused")
    page.keyboard.press("Escape")
    shot = tmp_path / "review-page.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("TESTIMONY_SCREENSHOT_DIR"):
        shutil.copyfile(shot, Path(os.environ["TESTIMONY_SCREENSHOT_DIR"]) / "review-page.png")
    assert (
        json.loads(
            page.evaluate("() => JSON.stringify(localStorage.getItem('testimony-reviewer'))")
        )
        == "Aigerim"
    )


# A team: accounts, two browsers at once, the interface in Russian, addresses --------------


@pytest.fixture
def team_server(home, review_server):  # noqa: F811
    accounts = Accounts(home)
    accounts.db.executescript("DELETE FROM review_sessions; DELETE FROM review_accounts;")
    for name in ("Aigerim", "Dana"):
        accounts.add(name, "reviewer", PASSWORD)
    accounts.add("Nurlan", "admin", PASSWORD)
    accounts.close()
    return review_server(home)


def logged_in(browser, server, name, locale="en-US"):
    """A separate browser context (its own cookies) logged in through the /login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(120_000)  # generous: the machine may be busy
    page.goto(f"{server.base}/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.login button[type="submit"]')
    page.wait_for_selector("table.list")
    return page


def test_two_reviewers_at_once_each_attributed_and_a_stale_save_shown(
    home, job, browser, team_server
):  # noqa: F811
    aigerim = logged_in(browser, team_server, "Aigerim")
    dana = logged_in(browser, team_server, "Dana")
    for page in (aigerim, dana):
        page.goto(f"{team_server.base}/interviews/{job.interview_id}")
        page.wait_for_selector('article.seg[data-id="4"]')
    assert aigerim.locator("#who").inner_text().startswith("Aigerim")

    aigerim.locator('article.seg[data-id="1"] textarea.src').fill(
        "Мой старший брат живёт в Алматы."
    )
    dana.locator('article.seg[data-id="3"] textarea.en').fill("Where is your son now?")
    saved(aigerim, 1)
    saved(dana, 3)
    reviews = Reviews(home)
    current = transcript.load_current(output_dir(home, job))
    assert current.segments[0].text == "Мой старший брат живёт в Алматы."
    assert current.segments[2].english == "Where is your son now?"
    assert [a["reviewer"] for a in reviews.audit(job.interview_id, 1)] == ["Aigerim"]
    assert [a["reviewer"] for a in reviews.audit(job.interview_id, 3)] == ["Dana"]
    assert sorted(current.review["reviewers"]) == ["Aigerim", "Dana"]

    # Both opened segment 2 at revision 0; Aigerim saves first, so Dana's save is stale.
    aigerim.locator('article.seg[data-id="2"] textarea.src').fill("Ол екі жыл лагерьде болды.")
    saved(aigerim, 2)
    dana.locator('article.seg[data-id="2"] textarea.src').fill("Ол лагерьде болған.")
    dana.wait_for_selector(
        'article.seg[data-id="2"][data-state="not saved: changed by someone else"]'
    )
    conflict = dana.locator('article.seg[data-id="2"] .conflict')
    assert conflict.is_visible() and "Aigerim" in conflict.inner_text()
    assert "Ол екі жыл лагерьде болды." in conflict.inner_text()
    assert "error" in dana.locator("#save-state").get_attribute("class")
    assert (
        transcript.load_current(output_dir(home, job)).segments[1].text
        == "Ол екі жыл лагерьде болды."
    )
    conflict.locator("button", has_text="Use their version").click()
    assert (
        dana.locator('article.seg[data-id="2"] textarea.src').input_value()
        == "Ол екі жыл лагерьде болды."
    )
    reviews.close()

    # The admin disables Dana's account from the list page: her open page loses its session.
    admin = logged_in(browser, team_server, "Nurlan")
    row = admin.locator('section.accounts tr[data-account="Dana"]')
    row.locator("button").click()
    admin.wait_for_function(
        "() => document.querySelector('section.accounts tr[data-account=\"Dana\"] .state')"
        ".textContent === 'disabled'"
    )
    assert (
        admin.locator('section.accounts tr[data-account="Nurlan"] button').count() == 0
    )  # not oneself
    dana.reload()
    dana.wait_for_selector('form.login input[name="password"]')


def test_russian_interface_deep_link_and_list_filters(home, job, browser, team_server, tmp_path):  # noqa: F811
    page = logged_in(browser, team_server, "Aigerim", locale="ru-RU")  # Accept-Language: ru-RU
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator("table.list th").first.inner_text() == "Дело"
    assert page.locator("header form.logout button").inner_text() == "Выйти"
    # The list filters by case, status and flag count, and keeps them in the address.
    page.select_option('select[name="status"]', "reviewed")
    page.wait_for_function("() => location.search === '?status=reviewed'")
    assert page.locator("table.list tbody tr").count() == 0
    page.goto(f"{team_server.base}/?case=KZ-7&flagged=2")
    page.locator("table.list tbody tr", has_text=job.interview_id).wait_for()
    assert page.locator('select[name="case"]').input_value() == "KZ-7"
    page.goto(f"{team_server.base}/?flagged=3")
    page.wait_for_selector("table.list")  # the rows are drawn with the table
    assert page.locator("table.list tbody tr").count() == 0

    # A link to one segment opens the interview there and seeks the recording to it.
    page.goto(f"{team_server.base}/interviews/{job.interview_id}#segment-3")
    seg3 = page.locator('article.seg[data-id="3"]')
    page.wait_for_selector('article.seg[data-id="3"].target')
    assert seg3.locator("textarea.src").evaluate("el => el === document.activeElement")
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#player').currentTime - 2.4) < 0.05"
    )
    assert seg3.locator("button.translate").inner_text() == "Перевести заново"
    assert (
        seg3.locator("textarea.src").input_value() == "Где ваш сын?"
    )  # the testimony itself is untouched
    shot = tmp_path / "review-page-ru.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("TESTIMONY_SCREENSHOT_DIR"):  # docs/review-page-ru.png is made this way
        shutil.copyfile(shot, Path(os.environ["TESTIMONY_SCREENSHOT_DIR"]) / "review-page-ru.png")

    # Switching the language is remembered for this person, in a new browser too.
    page.click('nav.languages a[hreflang="kk"]')
    page.wait_for_selector('html[lang="kk"] article.seg')
    assert page.locator("header form.logout button").inner_text() == "Шығу"
    # A colleague who is not logged in yet follows a link to one segment: login, then that segment.
    again = browser.new_context(viewport={"width": 1280, "height": 860}, locale="ru-RU").new_page()
    again.goto(f"{team_server.base}/interviews/{job.interview_id}#segment-4")
    again.fill('input[name="name"]', "Aigerim")
    again.fill('input[name="password"]', PASSWORD)
    again.click('form.login button[type="submit"]')
    again.wait_for_selector('article.seg[data-id="4"].target')
    assert again.locator("html").get_attribute("lang") == "kk"
