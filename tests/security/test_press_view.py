"""The press role and a withheld segment and name, through every route of a running server.

A reviewer edits segment 2, an admin withholds it and the name "Алматы" (and "Almaty"). Then
every route the app has (read from server.ROUTES, so a new one must be added here) is asked as
the press role; no answer may hold the withheld words. A reviewer's answers do hold them, so
the check can fail.
"""

from attack import as_role, home, job, post, processed, server, team  # noqa: F401  (fixtures)
from starlette.routing import Mount

from pipeline.review.server import ROUTES

SECRETS = ("лагерьде", "camp", "Алматы", "Almaty")
INTERVIEW = "/api/interviews/{interview_id}"
SEGMENT = INTERVIEW + "/segments/{segment_id:segment}"
# What the press role sends to each post route: aimed at the withheld segment or its neighbour.
PRESS_POSTS = {
    INTERVIEW + "/status": (None, {"status": "in_progress"}),
    INTERVIEW + "/speakers": (None, {"old": "S1", "new": "Алматы"}),
    INTERVIEW + "/merge-speakers": (None, {"merge": "S2", "into": "S1"}),
    SEGMENT: (2, {"revision": 1, "changes": {"text": "overwritten"}}),
    SEGMENT + "/split": (1, {"revision": 0, "at": 0.5, "offset": 3}),
    SEGMENT + "/merge": (1, {"revision": 0, "next_revision": 1}),
    SEGMENT + "/translate": (2, {"revision": 1}),
    INTERVIEW + "/press/withhold": (None, {"segments": [4]}),
    INTERVIEW + "/press/export": (None, {"allow_unreviewed": True}),
    "/api/search": (None, {"query": "лагерьде"}),
    "/api/accounts/disable": (None, {"name": "Aigerim"}),
    "/api/accounts/enable": (None, {"name": "Aigerim"}),
}
SKIPPED_POSTS = {"/login", "/logout"}  # forms, tested in test_login_attacks.py


def withheld(server, job):
    base = f"/api/interviews/{job.interview_id}"
    reviewer = as_role(server, "reviewer")
    reply = post(
        reviewer,
        server,
        f"{base}/segments/2",
        {
            "revision": 0,
            "changes": {
                "text": "Ол екі жыл лагерьде болды.",
                "english": "He was in the camp for two years.",
            },
        },
    )
    assert reply.status_code == 200, reply.text
    admin = as_role(server, "admin")
    reply = post(
        admin, server, f"{base}/press/withhold", {"segments": [2], "terms": ["Алматы", "Almaty"]}
    )
    assert reply.status_code == 200, reply.text
    return reviewer


def answers(c, server, job) -> dict[str, str]:
    """Every route's answer to ``c``: GETs for each segment, posts with PRESS_POSTS."""
    got = {}
    for route in ROUTES:
        if isinstance(route, Mount):
            got["/static/main.js"] = c.get("/static/main.js").text
            continue
        path = route.path.replace("{interview_id}", job.interview_id)
        if "GET" in route.methods:
            for seg in (1, 2, 3, 4) if "{segment_id" in path else (None,):
                url = path.replace("{segment_id:segment}", str(seg))
                got[f"GET {url}"] = c.get(url).text
        if "POST" in route.methods and route.path not in SKIPPED_POSTS:
            seg, body = PRESS_POSTS[route.path]
            url = path.replace("{segment_id:segment}", str(seg))
            reply = post(c, server, url, body)
            got[f"POST {url} -> {reply.status_code}"] = reply.text
    for query in ("Алматы", "брат", "camp"):
        got[f"search {query}"] = post(c, server, "/api/search", {"query": query}).text
    return got


def test_the_press_role_never_receives_withheld_text(server, job):
    assert {r.path for r in ROUTES if "POST" in getattr(r, "methods", ())} == set(
        PRESS_POSTS
    ) | SKIPPED_POSTS
    reviewer = withheld(server, job)
    press = as_role(server, "press")
    seen = answers(press, server, job)
    leaks = [
        f"{where}: {secret}" for where, text in seen.items() for secret in SECRETS if secret in text
    ]
    assert not leaks, "\n".join(leaks)
    # Refused outright: the recording (a withheld name is audible) and edits of hidden text.
    assert press.get(f"/media/{job.interview_id}").status_code == 403
    assert any(
        k.startswith(f"POST /api/interviews/{job.interview_id}/segments/2 -> 403") for k in seen
    )
    shown = press.get(f"/api/interviews/{job.interview_id}").json()
    assert shown["review"]["withheld_terms"] == [] and shown["review"]["withheld_term_count"] == 2
    assert [s["muted"] for s in shown["segments"]] == [
        True,
        True,
        False,
        True,
    ]  # 4: the press withheld it
    assert "[name withheld]" in shown["segments"][0]["text"]
    # What the press role sees in full it may still edit.
    reply = post(
        press,
        server,
        f"/api/interviews/{job.interview_id}/segments/3",
        {"revision": 0, "changes": {"english": "Where is your son now?"}},
    )
    assert reply.status_code == 200 and "Almaty" not in reply.text
    # The reviewer sees what is withheld (marked), so the check above can fail.
    full = reviewer.get(f"/api/interviews/{job.interview_id}").text
    assert all(secret in full for secret in ("лагерьде", "camp", "Алматы"))
