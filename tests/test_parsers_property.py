"""Property-based tests: the transcript parser round-trips anything it writes, and answers
anything else with its own error, never a crash."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.transcript import Segment, Transcript, TranscriptError

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
times = st.floats(min_value=0, max_value=36_000, allow_nan=False)


@st.composite
def segments(draw):
    start = draw(times)
    return Segment(
        id=draw(st.integers(1, 10_000)),
        start=start,
        end=start + draw(st.floats(0, 60)),
        language=draw(st.sampled_from(["kk", "ky", "ru"])),
        text=draw(text),
        english=draw(st.none() | text),
        avg_logprob=draw(st.none() | st.floats(-10, 0)),
        flags=draw(st.lists(text, max_size=3)),
        speaker=draw(st.none() | text),
        reviewed=draw(st.booleans()),
        withheld=draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(segments(), max_size=8), text)
def test_round_trip(segs, case):
    t = Transcript("i-1", case, "kk", {"sha256": "0" * 64}, {"status": "missing"}, segs)
    assert Transcript.from_json(t.to_json()) == t


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_is_refused_cleanly(value):
    try:
        Transcript.from_json(json.dumps(value))
    except TranscriptError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "start", "end", "language", "text", "english", "flags"]),
        json_values,
        min_size=7,
    )
)
def test_malformed_segments_are_refused_cleanly(fields):
    doc = {
        "schema_version": 1,
        "interview_id": "i",
        "case_id": "KZ-1",
        "language": "kk",
        "source": {},
        "translation": {},
        "segments": [fields],
    }
    try:
        t = Transcript.from_json(json.dumps(doc))
    except TranscriptError:
        return
    seg = t.segments[0]
    assert isinstance(seg.text, str) and 0 <= seg.start <= seg.end


# The plain-text review file ----------------------------------------------------------------

from pathlib import Path  # noqa: E402

from pipeline.review.reviewfile import render  # noqa: E402
from pipeline.review.textfile import ReviewFileError, parse  # noqa: E402

one_line = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=60,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(segments(), min_size=1, max_size=6, unique_by=lambda s: s.id), st.data())
def test_review_file_round_trip(segs, data):
    for s in segs:
        s.text = data.draw(one_line)
        s.english = data.draw(st.none() | one_line)
        s.speaker = data.draw(st.none() | one_line.filter(lambda x: x == x.strip()))
    t = Transcript("i-1", "KZ-1", "kk", {}, {}, segs)
    text = render(t, {s.id: {"revision": 3} for s in segs})
    interview_id, blocks = parse(text, Path("review.txt"))
    assert interview_id == "i-1"
    for seg, block in zip(segs, blocks, strict=True):
        assert (block.segment_id, block.revision) == (seg.id, 3)
        assert block.fields["text"] == seg.text and block.fields["english"] == seg.english
        assert block.fields["language"] == seg.language and block.fields["reviewed"] == seg.reviewed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_is_refused_with_line_numbers(text):
    try:
        parse(text, Path("review.txt"))
    except ReviewFileError as exc:
        assert exc.problems and all(1 <= n <= text.count("\n") + 2 for n, _ in exc.problems)
