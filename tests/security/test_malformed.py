"""Malformed requests against a running server: each answered 4xx with a message, never a 500 or a
dropped connection; the issue's findings one by one, plus paths, TLS and odd account names."""

import http.client
import json
import re
import subprocess

import pytest
from attack import PASSWORD, as_role, client, csrf_token, home, job, post, processed, server, team  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from pipeline.cli import app as main_app
from pipeline.review.accounts import Accounts


def raw(server, method, path, body=b"", headers=None):
    """One request as bytes on the wire (no client library tidying it): status and answer."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for key, value in {"Host": f"127.0.0.1:{server.port}", **(headers or {})}.items():
        conn.putheader(key, value)
    conn.endheaders()
    if body:
        conn.send(body)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, data


def cookie_header(c, server) -> str:
    return "; ".join(f"{k}={v}" for k, v in c.cookies.items())


@pytest.fixture
def admin(server):
    return as_role(server, "admin")


def test_wrong_json_types_are_400s_that_name_the_field(server, job, admin):
    base = f"/api/interviews/{job.interview_id}"
    cases = [
        (f"{base}/segments/1", {"revision": 0, "changes": "text"}, "changes"),
        (f"{base}/segments/1", {"revision": 0, "changes": None}, "changes"),
        (f"{base}/segments/1", {"revision": "0", "changes": {}}, "revision"),
        (f"{base}/press/export", {"formats": ["srt"]}, "formats"),
        (f"{base}/press/withhold", {"segments": "13"}, "segments"),  # not segments 1 and 3
        (f"{base}/segments/1/split", {"revision": 0, "at": "1e999", "offset": 1}, "at"),
        ("/api/search", {"query": "брат", "case": ["KZ-7"]}, "case"),
        ("/api/search", ["брат"], "object"),
    ]
    for url, body, named in cases:
        reply = post(admin, server, url, body)
        assert reply.status_code == 400 and named in reply.json()["error"], (url, body, reply.text)
    assert (
        post(
            admin, server, f"{base}/segments/{'9' * 21}", {"revision": 0, "changes": {}}
        ).status_code
        == 404
    )
    assert admin.get(f"{base}/segments/{'9' * 21}/audit").status_code == 404


def test_deep_nesting_bad_bytes_and_wrong_content_types(server, job, admin):
    cookies, token = (
        cookie_header(admin, server),
        admin.cookies.get(f"testimony-csrf-{server.port}"),
    )
    sent = {"Cookie": cookies, "X-CSRFToken": token}
    forms = {"Cookie": cookies}  # no token header: what asgi-csrf once parsed itself, and fell over
    deep = b'{"query": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for body, kind, status in [
        (deep, "application/json", 400),
        (b"\xff\xfe{", "application/json", 400),
        (b"name=\xff\xfe&password=x", "application/x-www-form-urlencoded", 400),
        (b"--x\r\n", "multipart/form-data", 415),  # no boundary
        (b"<a/>", "text/xml", 415),
    ]:
        for path in ("/api/search", "/login"):
            code, data = raw(
                server,
                "POST",
                path,
                body,
                {
                    **(sent if kind.endswith("json") else forms),
                    "Content-Type": kind,
                    "Content-Length": str(len(body)),
                },
            )
            if path == "/login" and kind == "application/json":
                assert 400 <= code < 500  # the login form reads no JSON: no name, no login
            else:
                assert code == status, (path, kind, code)
                assert json.loads(data)["error"], data


def test_bodies_are_capped_before_they_are_read_and_the_login_checked_first(server):
    # 50 MiB announced, a few bytes sent: answered at once, the rest never read.
    code, data = raw(
        server,
        "POST",
        "/api/search",
        b'{"query": "',
        {"Content-Type": "application/json", "Content-Length": str(50 << 20)},
    )
    assert code == 413 and b"larger than" in data
    # Sent in chunks with no length: read only up to the cap.
    chunk = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))
    code, data = raw(
        server,
        "POST",
        "/api/search",
        chunk * 20 + b"0\r\n\r\n",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert code == 413
    # Not logged in: refused before the body is parsed (a broken body still gets the 401).
    code, data = raw(
        server,
        "POST",
        "/api/search",
        b"{not json",
        {"Content-Type": "application/json", "Content-Length": "9"},
    )
    assert code == 401


def test_another_apps_broken_cookies_do_not_break_the_page(server, job, admin):
    ours = cookie_header(admin, server)
    token = admin.cookies.get(f"testimony-csrf-{server.port}")
    for junk in ("a@b=1", "x/y=2", "what?=3", 'q="unclosed', "\x7f=\x80", "=", "theme=dark; x@=1"):
        for order in (f"{junk}; {ours}", f"{ours}; {junk}"):
            code, data = raw(server, "GET", "/api/me", headers={"Cookie": order})
            assert code == 200 and json.loads(data)["name"] == "Admin", (junk, data)
            code, data = raw(
                server,
                "POST",
                "/api/search",
                b'{"query": "x"}',
                {
                    "Cookie": order,
                    "X-CSRFToken": token,
                    "Content-Type": "application/json",
                    "Content-Length": "14",
                },
            )
            assert code == 200, (junk, data)
    # A cookie and a non-UTF-8 form on the login page: a 400, not a dropped connection.
    c = client(server)
    token = csrf_token(c)
    code, data = raw(
        server,
        "POST",
        "/login",
        b"csrftoken=" + token.encode() + b"&name=\xe9",
        {
            "Cookie": f"a@b=1; {cookie_header(c, server)}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(token) + 17),
        },
    )
    assert code == 400


def test_no_server_paths_in_answers_or_the_page(server, team, job, admin):
    home_path = str(team.home.resolve())
    for url in (
        "/",
        f"/interviews/{job.interview_id}",
        f"/api/interviews/{job.interview_id}",
        "/api/interviews",
    ):
        reply = admin.get(url)
        assert (
            reply.status_code == 200
            and home_path not in reply.text
            and str(team.home) not in reply.text
        )
    assert "outbox folder" in admin.get(f"/api/interviews/{job.interview_id}").json()["review_file"]
    reply = post(
        admin,
        server,
        f"/api/interviews/{job.interview_id}/press/export",
        {"allow_unreviewed": False},
    )
    assert reply.status_code == 400 and home_path not in reply.text and "not reviewed" in reply.text
    reply = post(
        admin, server, f"/api/interviews/{job.interview_id}/press/withhold", {"terms": ["Алматы"]}
    )
    assert reply.status_code == 200 and home_path not in reply.text


def test_an_account_named_with_a_slash_is_disabled_from_the_page(server, team, admin):
    accounts = Accounts(team)
    accounts.add("Team/Almaty ?#%", "reviewer", PASSWORD)
    accounts.close()
    reply = post(admin, server, "/api/accounts/disable", {"name": "Team/Almaty ?#%"})
    assert reply.status_code == 200
    assert {a["name"]: a["active"] for a in reply.json()}["Team/Almaty ?#%"] is False


def test_a_bad_tls_key_is_a_sentence_not_a_traceback(team, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(tmp_path / "k"),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    command = ["review", "--port", "0", "--tls-cert", str(cert), "--tls-key", str(key)]
    result = CliRunner().invoke(main_app, command, env={"TESTIMONY_HOME": str(team.home)})
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert re.search(r"cannot serve HTTPS .*PEM private key", result.output), result.output


def test_the_page_has_no_inline_style_for_its_csp_to_block():
    from pipeline.review.server import HERE

    for path in [*(HERE / "static").glob("*.js"), *(HERE / "templates").glob("*.html")]:
        text = path.read_text()
        assert not re.search(r"""\bstyle\s*[:=]\s*["'{]|\.style\.|<style""", text), path.name
