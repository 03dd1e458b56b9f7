"""The review page attacked over real HTTP: a uvicorn server on a free loopback port, httpx clients.

One processed interview per test process, shared by every file here (the real pipeline with the
tiny model, as test_review makes it; test_review's ``home`` resets it before each test), three
accounts (reviewer, press, admin) and fast login limits. Clients can come from different
loopback addresses (127.0.0.2, ...), which the server counts as different clients.
"""

import re

import httpx
import pytest

from pipeline.review.accounts import Accounts

from review_home import home, job, new_home, process  # noqa: F401  (fixtures)

PASSWORD = "correct horse battery"
ACCOUNTS = {"reviewer": "Aigerim", "press": "Dana", "admin": "Admin"}
MADE = {}  # the processed interview of this test process


@pytest.fixture(scope="module")
def processed(tmp_path_factory, tiny_checkpoint, speech_video):
    """test_review's interview, made once per process, not per file (the pipeline is slow)."""
    if "interview" not in MADE:
        settings = new_home(tmp_path_factory.mktemp("security") / "home", tiny_checkpoint)
        MADE["interview"] = settings, process(settings, speech_video)
    return MADE["interview"]


def set_limits(settings, **limits):
    """Replace the home's [review] settings (read when the server starts)."""
    path = settings.home / "testimony.toml"
    text = path.read_text().split("\n[review]\n")[0]
    lines = "".join(
        f"{k} = {v}\n"
        for k, v in {
            "login_delay_seconds": 0.01,
            "lockout_after": 3,
            "lockout_minutes": 15,
            **limits,
        }.items()
    )
    path.write_text(f"{text}\n[review]\n{lines}")


@pytest.fixture
def team(home):  # noqa: F811
    """The home folder with fast login limits and one account per role; no sessions, no failures."""
    set_limits(home)
    accounts = Accounts(home)
    accounts.db.executescript(
        "DELETE FROM review_sessions; DELETE FROM review_accounts; DELETE FROM review_clients;"
    )
    for role, name in ACCOUNTS.items():
        accounts.add(name, role, PASSWORD)
    accounts.close()
    return home


@pytest.fixture
def server(team, review_server):
    return review_server(team)


def client(server, address: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(
        base_url=server.base, follow_redirects=False, timeout=60, transport=transport
    )


def csrf_token(c: httpx.Client) -> str:
    """The login form's CSRF token (its cookie is set by the same answer)."""
    return re.search(r'name="csrftoken" value="([^"]+)"', c.get("/login").text)[1]


def log_in(server, name, password=PASSWORD, address="127.0.0.1"):
    c = client(server, address)
    reply = c.post(
        "/login", data={"name": name, "password": password, "csrftoken": csrf_token(c), "next": "/"}
    )
    return c, reply


def as_role(server, role: str) -> httpx.Client:
    """A client logged in with the account of ``role``, or nobody's for "anonymous"."""
    if role == "anonymous":
        return client(server)
    c, reply = log_in(server, ACCOUNTS[role])
    assert reply.status_code == 303, reply.text
    return c


def post(c: httpx.Client, server, path: str, body=None, **extra) -> httpx.Response:
    """A JSON post as the page sends it: with the CSRF token from its cookie."""
    headers = {
        "X-CSRFToken": c.cookies.get(f"testimony-csrf-{server.port}", ""),
        **extra.pop("headers", {}),
    }
    return c.post(path, json=body, headers=headers, **extra)
