"""Every route of the page against every role, on a running server; the rules below are the spec.

The routes come from the app itself (server.ROUTES), so a route added without a rule here fails.
Posts carry a body with an unknown field: a role that may use the route gets a 400 for the body
(the login is checked first, the body after), a role that may not gets 401 or 403 and nothing
is read or done.
"""

from attack import as_role, home, job, post, processed, server, team  # noqa: F401  (fixtures)
from starlette.routing import Mount

from pipeline.outbox import output_dir
from pipeline.review.server import ROUTES

ROLES = ("anonymous", "reviewer", "press", "admin")
EVERYONE = set(ROLES)
LOGGED_IN = {"reviewer", "press", "admin"}
PRESS = {"press", "admin"}
ADMIN = {"admin"}

# (method, path) -> the roles that may use it. "csrf" routes need the form's token from anyone.
RULES = {
    ("GET", "/"): LOGGED_IN,
    ("GET", "/interviews/{interview_id}"): LOGGED_IN,
    ("GET", "/i/{interview_id}"): EVERYONE,  # a redirect to the new address, nothing more
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): "csrf",
    ("POST", "/logout"): "csrf",
    ("GET", "/api/me"): LOGGED_IN,
    ("GET", "/api/interviews"): LOGGED_IN,
    ("GET", "/api/interviews/{interview_id}"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/status"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/speakers"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/merge-speakers"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/segments/{segment_id:segment}"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/segments/{segment_id:segment}/split"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/segments/{segment_id:segment}/merge"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/segments/{segment_id:segment}/translate"): LOGGED_IN,
    ("GET", "/api/interviews/{interview_id}/segments/{segment_id:segment}/audit"): LOGGED_IN,
    ("GET", "/api/interviews/{interview_id}/suggestions"): LOGGED_IN,
    ("POST", "/api/interviews/{interview_id}/press/withhold"): PRESS,
    ("POST", "/api/interviews/{interview_id}/press/export"): PRESS,
    ("POST", "/api/search"): LOGGED_IN,
    ("GET", "/api/accounts"): ADMIN,
    ("POST", "/api/accounts/disable"): ADMIN,
    ("POST", "/api/accounts/enable"): ADMIN,
    ("GET", "/media/{interview_id}"): LOGGED_IN,
    ("GET", "/static"): EVERYONE,
}


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD, which Starlette adds, is tried too)."""
    found = []
    for route in ROUTES:
        if isinstance(route, Mount):
            found.append(("GET", route.path))
        else:
            found += [(method, route.path) for method in sorted(route.methods)]
    return found


def address(path: str, interview_id: str) -> str:
    if path == "/static":
        return "/static/main.js"
    return path.replace("{interview_id}", interview_id).replace("{segment_id:segment}", "1")


def test_every_route_has_a_rule():
    served = {(m, p) for m, p in app_routes() if m != "HEAD"}
    assert served == set(RULES), "a route without a rule (or a rule without a route)"


def test_every_route_refuses_every_role_it_does_not_serve(server, job):
    clients = {role: as_role(server, role) for role in ROLES}
    wrong = []
    for method, path in app_routes():
        rule, url = (
            RULES[("GET" if method == "HEAD" else method, path)],
            address(path, job.interview_id),
        )
        for role, c in clients.items():
            if method == "POST":
                reply = (
                    post(c, server, url, {"probe": True})
                    if rule != "csrf"
                    else c.post(url, data={"name": role})
                )
            else:
                reply = c.request(method, url)
            status = reply.status_code
            if rule == "csrf":
                ok = status == 403  # no token in the form: refused before anything
            elif role in rule:
                ok = (
                    status not in (401, 403)
                    and status < 500
                    and (method != "POST" or status == 400)
                )
            elif role == "anonymous" and not path.startswith(("/api/", "/media/")):
                ok = status == 303 and reply.headers["location"].startswith("/login")
            else:
                ok = status == (401 if role == "anonymous" else 403)
            if not ok:
                wrong.append(f"{method} {url} as {role}: {status} {reply.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_a_reviewer_cannot_export_even_with_a_valid_body(server, team, job):
    """The issue's first finding: a reviewer's export answered 200 and wrote the files."""
    c = as_role(server, "reviewer")
    reply = post(
        c,
        server,
        f"/api/interviews/{job.interview_id}/press/export",
        {"formats": "srt,docx", "allow_unreviewed": True},
    )
    assert reply.status_code == 403 and "reviewer" in reply.json()["error"]
    assert not (output_dir(team, job) / "export").exists()
    for action in ("edit", "delete", "withhold/../export"):
        reply = post(c, server, f"/api/interviews/{job.interview_id}/press/{action}", {})
        assert reply.status_code in (403, 404)  # not a press action: nothing runs
