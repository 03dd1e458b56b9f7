"""Every JSON route of a running server, fuzzed with hypothesis: no body gets a 5xx or a dropped
connection, and every refusal is JSON with an error message.

The routes come from server.ROUTES; the bodies are any JSON (objects with the API's own field
names most of the time, so deeper checks are reached), any bytes, and deep nesting. Bounded
examples per route (20) keep it to seconds. The admin sends them: every right, so the body is parsed.
"""

import json

from attack import as_role, home, job, post, processed, server, team  # noqa: F401  (fixtures)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.review import bodies
from pipeline.review.server import ROUTES

FORMS = {"/login", "/logout"}
JSON_ROUTES = sorted(
    r.path for r in ROUTES if "POST" in getattr(r, "methods", ()) and r.path not in FORMS
)
FIELDS = sorted(
    {
        name
        for model in vars(bodies).values()
        if isinstance(model, type) and issubclass(model, bodies.Body)
        for name in model.model_fields
    }
    | {"junk"}
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(["", "0", "13", "srt,docx", "S1"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(FIELDS), values, max_size=5)
nested = st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)
bodies_on_the_wire = (
    objects.map(lambda o: json.dumps(o).encode())
    | values.map(lambda v: json.dumps(v).encode())
    | nested.map(str.encode)
    | st.binary(max_size=64)
)


def fuzz(server, job, admin, path: str) -> None:
    """Bodies from hypothesis to one route: none answered 5xx, every refusal a JSON error."""

    @settings(
        max_examples=20,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(body=bodies_on_the_wire, segment=st.sampled_from([1, 2, 4, 7, 999_999_999]))
    def one(body, segment):
        url = path.replace("{interview_id}", job.interview_id).replace(
            "{segment_id:segment}", str(segment)
        )
        reply = post(admin, server, url, content=body, headers={"Content-Type": "application/json"})
        assert reply.status_code < 500, (url, body[:200], reply.text[:300])
        if reply.status_code >= 400:
            assert reply.json()["error"], reply.text

    one()


def test_no_json_route_answers_5xx(server, job):
    """One server for all routes, sorted (export before the edits that could let it run)."""
    admin = as_role(server, "admin")
    for path in JSON_ROUTES:
        fuzz(server, job, admin, path)
