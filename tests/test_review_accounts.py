"""Review accounts over real HTTP (httpx against the real uvicorn server): logins, lock-out, roles, CSRF.

The interview comes from test_review's module fixture (the real pipeline with the tiny model).
"""

import json
import logging
import re
import ssl
import subprocess

import httpx
import pytest
from typer.testing import CliRunner

from pipeline import custody, transcript
from pipeline.cli import app as main_app
from pipeline.outbox import output_dir
from pipeline.review.accounts import Accounts
from pipeline.review.login import safe_next
from pipeline.review.running import InsecureNetwork, make_server
from pipeline.store import Store

from review_home import home, job, processed  # noqa: F401  (fixtures: one processed interview per module)

PASSWORD = "correct horse battery"
LIMITS = "\n[review]\nlogin_delay_seconds = 0.05\nlockout_after = 3\nlockout_minutes = 15\n"


@pytest.fixture
def team(home):  # noqa: F811
    """The home folder with fast login limits and three accounts, one per role; no sessions yet."""
    settings_file = home.home / "testimony.toml"
    if "[review]" not in settings_file.read_text():
        settings_file.write_text(settings_file.read_text() + LIMITS)
    accounts = Accounts(home)
    accounts.db.executescript(
        "DELETE FROM review_sessions; DELETE FROM review_accounts; DELETE FROM review_clients;"
    )
    for name, role in (("Aigerim", "reviewer"), ("Dana", "press"), ("Admin", "admin")):
        accounts.add(name, role, PASSWORD)
    accounts.close()
    return home


@pytest.fixture
def server(team, review_server):
    return review_server(team)


def client(server) -> httpx.Client:
    return httpx.Client(base_url=server.base, follow_redirects=False, timeout=30)


def log_in(server, name, password=PASSWORD, c=None, **extra):
    c = c or client(server)
    page = c.get("/login", **extra)
    token = re.search(r'name="csrftoken" value="([^"]+)"', page.text)[1]
    reply = c.post(
        "/login", data={"name": name, "password": password, "csrftoken": token, "next": "/"}
    )
    return c, reply


def post(c, server, path, body):
    """A JSON post as the page sends it: with the CSRF token from its cookie."""
    return c.post(
        path, json=body, headers={"X-CSRFToken": c.cookies.get(f"testimony-csrf-{server.port}", "")}
    )


def session_cookie(c, server) -> str:
    return c.cookies.get(f"testimony-{server.port}")


def reviewers(*args, stdin=None):
    return CliRunner().invoke(main_app, ["reviewers", *args], input=stdin, catch_exceptions=False)


# The command -----------------------------------------------------------------------------


def test_reviewers_command(home):  # noqa: F811
    Accounts(home).db.executescript("DELETE FROM review_sessions; DELETE FROM review_accounts;")
    assert "single-token mode" in reviewers("list").output
    result = reviewers(
        "add", "Aigerim", "--role", "reviewer", "--password-stdin", stdin=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert (
        reviewers(
            "add", "Dana", "--role", "editor", "--password-stdin", stdin=f"{PASSWORD}\n"
        ).exit_code
        == 1
    )
    assert "at least 8" in reviewers("add", "Dana", "--password-stdin", stdin="short\n").output
    assert (
        "exists already"
        in reviewers("add", "Aigerim", "--password-stdin", stdin=f"{PASSWORD}\n").output
    )
    # Asked twice at the prompt when not given on stdin.
    result = reviewers("add", "Dana", "--role", "press", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert reviewers("disable", "Dana").exit_code == 0
    assert (
        reviewers("passwd", "Aigerim", "--password-stdin", stdin="another good one\n").exit_code
        == 0
    )
    listed = reviewers("list").output.splitlines()
    assert re.match(r"Aigerim\s+reviewer\s+active", listed[0]) and re.match(
        r"Dana\s+press\s+disabled", listed[1]
    )
    stored = Accounts(home).db.execute("SELECT password_hash FROM review_accounts").fetchall()
    assert all(r[0].startswith("$argon2id$") and PASSWORD not in r[0] for r in stored)
    assert "no account named" in reviewers("disable", "Nobody").output


# Logging in ----------------------------------------------------------------------------


def test_wrong_password_is_refused_slowed_and_logged_without_the_password(server, caplog):
    caplog.set_level(logging.INFO)
    c, reply = log_in(server, "Aigerim", "not the password")
    assert reply.status_code == 401 and "Wrong name or password." in reply.text
    assert reply.headers["Retry-After"] == "1"  # whole seconds, as the header wants
    c, reply = log_in(server, "Aigerim", "still not it", c)
    assert c.get("/api/me").status_code == 401
    assert "wrong password for account Aigerim (2 in a row)" in caplog.text
    assert "not the password" not in caplog.text and "still not it" not in caplog.text
    _, reply = log_in(server, "Nobody", "whatever it is")
    assert (
        reply.status_code == 401 and "Wrong name or password." in reply.text
    )  # unknown names look the same


def test_lockout_after_wrong_passwords_in_a_row(server, team, caplog):
    caplog.set_level(logging.INFO)
    c = client(server)
    for _ in range(3):
        c, reply = log_in(server, "Aigerim", "guess", c)
    assert reply.status_code == 401 and "locked for 15 minutes" in reply.text  # said to all
    _, reply = log_in(server, "Aigerim")  # even the right password, while locked
    assert reply.status_code == 401
    assert "locked for 15 minutes" in caplog.text
    assert re.search(r"Aigerim\s+reviewer\s+active, locked until", reviewers("list").output)
    # The other accounts are not affected, and a new password unlocks.
    assert log_in(server, "Dana")[1].status_code == 303
    assert (
        reviewers("passwd", "Aigerim", "--password-stdin", stdin="a new password\n").exit_code == 0
    )
    c, reply = log_in(server, "Aigerim", "a new password")
    assert reply.status_code == 303 and c.get("/api/me").json()["name"] == "Aigerim"


def test_login_page_in_the_browsers_language(server):
    c = client(server)
    page = c.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in page.text and "Пароль" in page.text
    assert 'name="name"' in page.text and 'name="password"' in page.text
    assert '<html lang="kk">' in c.get("/login?lang=kk").text
    assert (
        '<html lang="kk">' in c.get("/login", headers={"Accept-Language": "ru"}).text
    )  # the choice is kept


def test_a_new_session_id_after_login(server):
    """Session fixation: a session cookie planted before login is not the one that is logged in."""
    c = client(server)
    c.get("/login?lang=ru")
    planted = session_cookie(c, server)
    assert planted
    c, reply = log_in(server, "Aigerim", c=c)
    assert reply.status_code == 303
    after = session_cookie(c, server)
    assert after != planted
    assert c.get("/api/me").json() == {
        "name": "Aigerim",
        "role": "reviewer",
        "token_mode": False,
        "may": ["edit"],
        "sees_withheld": True,
        "language": "ru",
    }
    attacker = client(server)
    attacker.cookies.set(f"testimony-{server.port}", planted)
    assert attacker.get("/api/me").status_code == 401


def test_logout_and_expiry_end_the_session(server, team):
    c, _ = log_in(server, "Aigerim")
    kept = session_cookie(c, server)
    token = re.search(r'name="csrftoken" value="([^"]+)"', c.get("/").text)[1]
    assert c.post("/logout", data={"csrftoken": token}).status_code == 303
    replay = client(server)
    replay.cookies.set(f"testimony-{server.port}", kept)
    assert replay.get("/api/me").status_code == 401
    assert replay.get("/").headers["Location"].startswith("/login")

    c, _ = log_in(server, "Aigerim")
    assert c.get("/api/me").status_code == 200
    Accounts(team).db.execute("UPDATE review_sessions SET expires_at = 0")
    assert c.get("/api/me").status_code == 401


def test_a_disabled_accounts_live_session_ends(server):
    c, _ = log_in(server, "Aigerim")
    assert c.get("/api/interviews").status_code == 200
    assert reviewers("disable", "Aigerim").exit_code == 0
    assert c.get("/api/interviews").status_code == 401
    assert log_in(server, "Aigerim")[1].status_code == 401


# Roles and attribution -------------------------------------------------------------------


def test_roles_are_enforced_by_the_server(server, team, job):  # noqa: F811
    base = f"/api/interviews/{job.interview_id}"
    reviewer, _ = log_in(server, "Aigerim")
    assert post(reviewer, server, f"{base}/press/withhold", {"segments": [2]}).status_code == 403
    assert (
        post(reviewer, server, f"{base}/press/export", {"allow_unreviewed": True}).status_code
        == 403
    )
    assert reviewer.get("/api/accounts").status_code == 403
    assert post(reviewer, server, "/api/accounts/disable", {"name": "Dana"}).status_code == 403
    out = output_dir(team, job)
    assert not any(s.withheld for s in transcript.load_current(out).segments)
    assert not (out / "export").exists()

    press, _ = log_in(server, "Dana")
    reply = post(press, server, f"{base}/press/withhold", {"segments": [2], "terms": ["Алматы"]})
    assert reply.status_code == 200
    assert [s["id"] for s in reply.json()["interview"]["segments"] if s["withheld"]] == [2]
    events = [
        e for e in Store(team.database).events(job.interview_id) if e["kind"] == "review page"
    ]
    assert json.loads(events[-1]["detail"]) == {"account": "Dana", "action": "withhold"}
    assert (
        custody.history(Store(team.database), job.interview_id)[-1]["text"]
        == "Dana used withhold on the review page"
    )
    assert press.get("/api/accounts").status_code == 403

    admin, _ = log_in(server, "Admin")
    assert [a["name"] for a in admin.get("/api/accounts").json()] == ["Admin", "Aigerim", "Dana"]
    assert post(admin, server, "/api/accounts/disable", {"name": "Aigerim"}).status_code == 200
    assert reviewer.get("/api/me").status_code == 401


def test_edits_are_attributed_to_the_account_not_a_typed_name(server, team, job):  # noqa: F811
    c, _ = log_in(server, "Aigerim")
    reply = post(
        c,
        server,
        f"/api/interviews/{job.interview_id}/segments/1",
        {
            "reviewer": "Someone Else",
            "revision": 0,
            "changes": {"english": "My brother lives in Almaty now."},
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["review"]["reviewers"] == ["Aigerim"]
    assert (
        c.get(f"/api/interviews/{job.interview_id}/segments/1/audit").json()[-1]["reviewer"]
        == "Aigerim"
    )
    edits = [
        json.loads(e["detail"])
        for e in Store(team.database).events(job.interview_id)
        if e["kind"] == "edit"
    ]
    assert edits[-1]["reviewer"] == "Aigerim"
    told = [e["text"] for e in custody.history(Store(team.database), job.interview_id)]
    assert "Aigerim edited segment 1 (english)" in told


# Requests that must not get through --------------------------------------------------------


def test_cross_site_post_without_the_csrf_token_is_refused(server, team, job):  # noqa: F811
    c, _ = log_in(server, "Aigerim")
    path = f"/api/interviews/{job.interview_id}/segments/1"
    edit = {"revision": 0, "changes": {"text": "forged"}}
    assert c.post(path, json=edit, headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post(path, data={"revision": "0"}).status_code == 403
    assert not (output_dir(team, job) / transcript.REVIEWED_FILE).exists()
    assert post(c, server, path, edit).status_code == 200


def test_path_traversal_in_media_urls(server, team, job):  # noqa: F811
    c, _ = log_in(server, "Aigerim")
    for path in (
        f"/media/..%2f..%2f{team.database.name}",
        "/media/../testimony.db",
        "/media/%2e%2e%2ftestimony.db",
        f"/media/{job.interview_id}%2f..%2f..%2ftestimony.db",
        "/media/..%5c..%5ctestimony.db",
        "/static/..%2f..%2fserver.py",
        "/static/%2e%2e/accounts.py",
    ):
        reply = c.get(path)
        assert reply.status_code in (403, 404), path
        assert b"SQLite" not in reply.content and b"argon2" not in reply.content
    ranged = c.get(f"/media/{job.interview_id}", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100


# The network -----------------------------------------------------------------------------


def test_network_address_needs_tls(team, tmp_path, review_server):
    with pytest.raises(InsecureNetwork, match="--tls-cert"):
        make_server(team, "0.0.0.0", 0)
    result = CliRunner().invoke(
        main_app,
        ["review", "--host", "0.0.0.0", "--port", "0"],
        env={"TESTIMONY_HOME": str(team.home)},
    )
    assert result.exit_code == 1 and "without TLS" in result.output

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = review_server(team, tls_cert=cert, tls_key=key)
    assert server.base.startswith("https://")
    c = httpx.Client(
        base_url=server.base,
        verify=ssl.create_default_context(cafile=str(cert)),
        follow_redirects=False,
        timeout=30,
    )
    c, reply = log_in(server, "Aigerim", c=c)
    assert reply.status_code == 303
    assert "secure" in reply.headers["Set-Cookie"].lower()
    assert c.get("/api/me").json()["name"] == "Aigerim"
    c.close()  # an open keep-alive connection holds the server's shutdown


def test_after_login_only_addresses_on_this_site():
    assert safe_next("/interviews/KZ-7-0003#segment-12") == "/interviews/KZ-7-0003#segment-12"
    for elsewhere in (
        "https://evil.example/",
        "//evil.example/x",
        "javascript:alert(1)",
        "evil.example",
    ):
        assert safe_next(elsewhere) == "/", elsewhere
