"""The review page's search box in headless Chromium (Debian's package, driven by Playwright).

A reviewer and a press officer log in with their accounts, search across interviews, and open
a hit at its moment; the press officer never sees withheld text.
"""

import pytest
from test_review_browser import CHROMIUM, browser  # noqa: F401  (the browser fixture)
from test_search import spoken_video
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.outbox import output_dir
from pipeline.review.accounts import Accounts

from review_home import new_home, process, seed

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium: apt-get install -y chromium",
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, tiny_checkpoint):
    """One processed interview with two accounts, a withheld name and a withheld segment."""
    home = new_home(tmp_path_factory.mktemp("search-page") / "home", tiny_checkpoint)
    job = process(home, spoken_video(tmp_path_factory.mktemp("media"), "Мой брат живёт в Алматы."))
    seed(home, job)  # "Мой брат живёт в Алматы." ... "Где ваш сын?" ...
    accounts = Accounts(home)
    for name, role in (("Aigerim", "reviewer"), ("Dana", "press")):
        accounts.add(name, role, PASSWORD)
    accounts.close()
    runner = CliRunner(env={"TESTIMONY_HOME": str(home.home)})
    assert runner.invoke(app, ["withhold", job.interview_id, "Алматы"]).exit_code == 0
    assert runner.invoke(app, ["withhold", job.interview_id, "--segment", "3"]).exit_code == 0
    return home, job


@pytest.fixture
def served(prepared, monkeypatch, review_server):
    home, job = prepared
    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    return home, job, review_server(home)


def logged_in(browser, server, name):
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(15_000)
    page.goto(server.base + "/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#search input")
    return page


def search(page, query):
    box = page.locator("#search input")
    box.fill(query)
    box.press("Enter")  # the panel says "searching" at once, "done" when the answer is drawn
    page.wait_for_selector('#search-results[data-state="done"]')
    return page.locator("#search-results").inner_text()


def test_search_box_finds_across_interviews_and_opens_the_moment(served, browser):
    home, job, server = served
    page = logged_in(browser, server, "Aigerim")

    text = search(page, "алматы")  # folded: the text says Алматы
    hit = page.locator(".search-hit", has=page.locator("mark", has_text="Алматы"))
    assert hit.count() == 1 and "has a withheld name" in hit.inner_text()
    assert "где ваш" not in text.lower()
    search(page, '"ваш сын"')  # a withheld segment: shown to reviewers, marked
    assert "withheld segment" in page.locator(".search-hit").inner_text()
    assert page.url == server.base + "/"  # the query never enters the address

    search(page, "брат")
    page.locator(".search-hit a.moment").click()
    page.wait_for_url(f"**/interviews/{job.interview_id}#segment-1")
    page.wait_for_selector('article.seg[data-id="1"].target')
    search(page, '"ваш сын"')  # from inside that interview: another segment of the same page
    page.locator(".search-hit a.moment").click()
    page.wait_for_selector('article.seg[data-id="3"].target')
    assert page.url.endswith(f"/interviews/{job.interview_id}#segment-3")
    assert page.locator("#search-results").is_hidden()

    text = search(page, '"брат')  # a quote left open: a clear message, not a failure
    assert "double quote is not closed" in page.locator("#search-results .error").inner_text()


def test_the_press_never_sees_withheld_text(served, browser):
    home, job, server = served
    page = logged_in(browser, server, "Dana")
    assert "No hits." in search(page, "Алматы")
    assert "No hits." in search(page, '"ваш сын"')
    text = search(page, "брат")
    assert "[name withheld]" in text and "Алматы" not in text
    assert (output_dir(home, job) / "reviewed.json").exists()
