"""Subtitle cutting and timing, and the redaction every export goes through (no media needed)."""

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.export import redact, subtitles
from pipeline.transcript import Segment, Transcript
from pipeline.withheld import TERM_MARK

LONG = (
    "They came at night and took my brother away. We asked at the police station the next "
    "morning and nobody would tell us anything about where he was being held or why."
)


def seg(i, start, end, english, **kw):
    return Segment(id=i, start=start, end=end, language="kk", text="мәтін", english=english, **kw)


def cps(cue):
    return cue.chars / (cue.end - cue.start)


def test_long_segment_becomes_readable_cues_at_sentence_ends():
    cues = subtitles.cues([seg(0, 10.0, 22.0, LONG), seg(1, 30.0, 31.0, "Yes.")], duration=40)
    body = [c for c in cues if c.start < 30]
    assert len(body) >= 2
    assert all(len(c.lines) <= 2 and all(len(line) <= 42 for line in c.lines) for c in cues)
    assert body[0].lines[-1].endswith("away.")  # the first sentence is a cue of its own
    assert " ".join(" ".join(c.lines) for c in body) == LONG
    assert body[0].start == 10.0 and all(a.end == b.start for a, b in zip(body, body[1:]))
    assert all(cps(c) <= subtitles.MAX_CPS + 0.01 for c in cues)
    # "Yes." is short: it stays up for its own second, the minimum.
    assert (cues[-1].start, cues[-1].end) == (30.0, 31.0)


def test_fast_speech_borrows_the_following_pause_but_never_the_next_segment():
    fast = seg(0, 0.0, 3.0, LONG)  # 164 characters in 3 s: about 55 a second as spoken
    roomy = subtitles.cues([fast, seg(1, 20.0, 21.0, "Yes.")], duration=30)
    assert roomy[-2].end <= 20.0 and all(cps(c) <= subtitles.MAX_CPS + 0.01 for c in roomy[:-1])
    tight = subtitles.cues([fast, seg(1, 4.0, 5.0, "Yes.")], duration=30)
    speech = [c for c in tight if c.start < 4.0]
    assert speech[-1].end == 4.0  # as much time as the speech allows, no overlap with the next cue
    assert all(c.end - c.start > 0 for c in tight)


def test_unreviewed_marker_spans_the_video_at_the_top_in_srt_and_vtt():
    cues = subtitles.cues(
        [seg(0, 1.0, 2.0, "He is my son & <brother>.")], duration=12.5, unreviewed=True
    )
    assert cues[0].top and cues[0].start == 0 and cues[0].end == 12.5
    srt = subtitles.srt(cues)
    assert "00:00:00,000 --> 00:00:12,500\n{\\an8}UNREVIEWED MACHINE TRANSLATION" in srt
    vtt = subtitles.vtt(cues)
    assert (
        vtt.startswith("WEBVTT\n") and "00:00:12.500 line:0\nUNREVIEWED MACHINE TRANSLATION" in vtt
    )
    assert "son &amp; &lt;brother&gt;." in vtt and "son & <brother>." in srt


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzәғқңөұүһі,.", min_size=1, max_size=14)
        | st.text(alphabet="abcә", min_size=40, max_size=130),  # a URL or a recognizer's loop
        min_size=1,
        max_size=60,
    ),
    st.floats(0.5, 30),
)
def test_every_cue_fits_two_lines_and_keeps_every_letter(words, seconds):
    text = " ".join(words)
    cues = subtitles.cues([seg(0, 5.0, 5.0 + seconds, text)], duration=5.0 + seconds)
    assert all(1 <= len(c.lines) <= 2 and all(len(line) <= 42 for line in c.lines) for c in cues)
    assert "".join("".join(c.lines) for c in cues).replace(" ", "") == text.replace(" ", "")
    assert cues[0].start == 5.0 and abs(cues[-1].end - (5.0 + seconds)) < 0.01


def transcript(**review):
    segments = [
        Segment(
            0,
            0.0,
            2.0,
            "kk",
            "Менің ағам ЕРЛАН қалада, Ерланның үйі",
            "My brother ERLAN, erlan's house",
        ),
        Segment(1, 2.0, 3.0, "ru", "Звоните +7 701 555-01-01", "Call +7 701 555-01-01"),
        Segment(2, 3.5, 5.0, "ru", "Керлан и Эрлан", "Kerlan and Erlanov", withheld=False),
        Segment(3, 6.0, 7.0, "kk", "құпия", "secret", withheld=True),
    ]
    return Transcript(
        "x-1",
        "KZ-1",
        "kk",
        {
            "file": "Ерлан.mp4",
            "sha256": "a" * 64,
            "duration_s": 8.0,
            "evidence_path": "/e/Ерлан.mp4",
        },
        {"status": "done"},
        segments,
        interview={"recorded_on": "2024-03-02", "names": ["Ерлан"], "notes": "at Erlan's"},
        review={
            "status": "reviewed",
            "reviewers": ["A"],
            "withheld_terms": review.get("terms", []),
        },
    )


def test_terms_are_replaced_case_insensitively_with_their_endings_and_nothing_else():
    t = redact.redacted(transcript(terms=["ерлан", "Erlan", "+7  701 555-01-01", "  "]))
    texts = [(s.text, s.english) for s in t.segments]
    assert texts[0] == (
        "Менің ағам [name withheld] қалада, [name withheld] үйі",
        "My brother [name withheld], [name withheld]'s house",
    )
    assert texts[1] == ("Звоните [name withheld]", "Call [name withheld]")
    assert texts[2] == (
        "Керлан и Эрлан",
        "Kerlan and [name withheld]",
    )  # "Erlanov" is his name inflected
    assert texts[3] == (redact.SEGMENT_MARK, redact.SEGMENT_MARK)
    assert t.review["withheld_terms"] == [] and t.review["withheld_term_count"] == 3


def test_every_spelling_search_folds_together_is_replaced_in_text_and_english():
    # Search finds these as the withheld word (stand-in letters, ё, NFD): exports hide them too.
    nfd = unicodedata.normalize("NFD", "Әйгерімнің")
    spoken = ["Кызылордада", "Әйгерим", "Айгерім", "Ёрлан", nfd, "ҚЫЗЫЛОРДА"]
    t = transcript(terms=["Ерлан", "Қызылорда", "Әйгерім"])
    t.segments[1].text = " ".join(spoken)
    t.segments[1].english = f"in Кызылорда, {nfd}"  # what a bilingual export shows beside it
    plain = unicodedata.normalize("NFD", "Керлан қалада")
    t.segments[2].text = plain
    out = redact.redacted(t)
    assert out.segments[1].text == " ".join([TERM_MARK] * len(spoken))
    assert out.segments[1].english == f"in {TERM_MARK}, {TERM_MARK}"
    assert out.segments[2].text == plain  # nothing withheld in it: not even normalised
    assert redact.mentions(t) == [0, 1]
    # and the other way round: a term typed with stand-ins hides the proper spelling
    other = transcript(terms=["Кызылорда"])
    other.segments[0].text = "Қызылордада"
    assert redact.redacted(other).segments[0].text == TERM_MARK


def test_redacted_copy_drops_fields_that_can_name_people():
    original = transcript(terms=["Erlan"])
    t = redact.redacted(original)
    assert t.interview == {"recorded_on": "2024-03-02"}
    assert t.source == {"sha256": "a" * 64, "duration_s": 8.0}
    assert (
        original.segments[0].english == "My brother ERLAN, erlan's house"
    )  # the input is untouched
    assert not re.search(r"(?<!\w)erlan", repr(t), re.IGNORECASE)  # "Kerlan" is someone else


def test_muted_spans_are_padded_merged_and_clamped():
    t = transcript()
    t.segments[1].withheld = True
    t.segments[2].withheld = True
    assert redact.muted_spans(t, duration=6.5) == [(1.75, 5.25), (5.75, 6.5)]
    assert redact.mentions(transcript(terms=["Ерлан"])) == [0]
