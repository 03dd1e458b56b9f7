"""Logging in under attack, on a running server: parallel guesses, guessing from one client,
login CSRF from another site, and names that must not show whether they exist."""

import logging
import re
import threading

import httpx
from attack import (  # noqa: F401  (fixtures)
    PASSWORD,
    client,
    csrf_token,
    home,
    job,
    log_in,
    processed,
    server,
    set_limits,
    team,
)

from pipeline.review.accounts import Accounts

WRONG = "wrong password for account"


def guesses(caplog) -> int:
    return sum(WRONG in r.getMessage() for r in caplog.records)


def locked(settings, name) -> bool:
    accounts = Accounts(settings)
    try:
        return bool(accounts.get(name).locked_until)
    finally:
        accounts.close()


def test_parallel_guesses_are_each_counted_and_the_right_password_is_then_refused(
    team, review_server, caplog
):
    set_limits(
        team, lockout_after=3, client_lockout_after=100
    )  # the account's count, not the client's
    server = review_server(team)
    caplog.set_level(logging.INFO)
    ready = []
    for _ in range(12):  # each with its own form token, as 12 browser tabs would have
        c = client(server)
        ready.append((c, csrf_token(c)))
    start, replies = threading.Barrier(len(ready)), []

    def guess(c, token):
        start.wait()
        replies.append(
            c.post("/login", data={"name": "Aigerim", "password": "guess", "csrftoken": token})
        )

    threads = [threading.Thread(target=guess, args=pair) for pair in ready]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted({r.status_code for r in replies}) == [401]
    assert (
        guesses(caplog) == 3
    )  # only as many passwords checked as the lock allows, all in one count
    counts = [int(m) for m in re.findall(rf"{WRONG} Aigerim \((\d+) in a row\)", caplog.text)]
    assert sorted(counts) == [1, 2, 3]
    _, reply = log_in(server, "Aigerim")  # the right password, now the account is locked
    assert reply.status_code == 401 and locked(team, "Aigerim")


def test_one_client_cannot_lock_accounts_and_is_held_back_itself(team, review_server, caplog):
    set_limits(team, lockout_after=10, client_lockout_after=5)
    server = review_server(team)
    caplog.set_level(logging.INFO)
    statuses = []
    for n in range(8):  # an anonymous guesser trying every account, admins included
        _, reply = log_in(server, ["Admin", "Aigerim", "Dana"][n % 3], "guess", address="127.0.0.2")
        statuses.append(reply.status_code)
    assert statuses == [401] * 5 + [429] * 3
    assert int(reply.headers["Retry-After"]) > 60
    assert guesses(caplog) == 5
    assert not any(locked(team, name) for name in ("Admin", "Aigerim", "Dana"))
    # Others (another address) log in as before; the guesser's address waits.
    assert log_in(server, "Admin", address="127.0.0.3")[1].status_code == 303
    assert log_in(server, "Admin", address="127.0.0.2")[1].status_code == 429


def test_login_and_logout_from_another_site_are_refused(server, team):
    """A page elsewhere posting a login form: no token, so no login, and no guess is counted."""
    for cookies in ({}, {"othersite": "1"}):  # with no cookie, or only another app's
        c = httpx.Client(base_url=server.base, cookies=cookies, follow_redirects=False)
        for password in (PASSWORD, "guess"):
            reply = c.post(
                "/login",
                data={"name": "Aigerim", "password": password},
                headers={"Origin": "http://attacker.example"},
            )
            assert reply.status_code == 403 and "CSRF" in reply.json()["error"]
            assert f"testimony-{server.port}" not in reply.cookies
    accounts = Accounts(team)
    assert accounts.get("Aigerim").failures == 0
    accounts.close()
    # Logging someone out from another site: refused, the session lives on.
    c, reply = log_in(server, "Aigerim")
    assert reply.status_code == 303
    forged = httpx.Client(base_url=server.base, cookies=dict(c.cookies), follow_redirects=False)
    assert forged.post("/logout", data={"x": "1"}).status_code == 403
    assert c.get("/api/me").status_code == 200


def answer(server, name, password, address):
    """What a failed login shows: status, Retry-After, and the page without its fresh CSRF token."""
    _, reply = log_in(server, name, password, address=address)
    page = re.sub(r'value="[^"]*"', "", reply.text)
    return reply.status_code, reply.headers.get("Retry-After"), page


def test_failed_logins_look_the_same_for_every_name(server, team):
    accounts = Accounts(team)
    accounts.add("Gone", "reviewer", PASSWORD)
    accounts.set_active("Gone", False)
    accounts.add("Locked", "admin", PASSWORD)
    accounts.db.execute(
        "UPDATE review_accounts SET failures=3, locked_until=9e9 WHERE name='Locked'"
    )
    accounts.close()
    # Each from a fresh address, so each is that client's first failure.
    seen = {
        name: answer(server, name, password, f"127.0.0.{10 + n}")
        for n, (name, password) in enumerate(
            [
                ("Aigerim", "guess"),
                ("Nobody", "guess"),
                ("Gone", PASSWORD),
                ("Locked", PASSWORD),
                ("Admin", "guess"),
            ]
        )
    }
    assert len(set(seen.values())) == 1, seen
    status, retry, page = seen["Nobody"]
    assert status == 401 and retry == "1" and "Wrong name or password." in page
    # The second failure from one client waits as long whatever the name.
    assert answer(server, "Aigerim", "guess", "127.0.0.10") == answer(
        server, "Nobody", "guess", "127.0.0.11"
    )
