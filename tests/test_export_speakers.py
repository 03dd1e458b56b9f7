"""Speakers and word times in what newsrooms get: DOCX, PDF and subtitles (renderers on their own)."""

import io
from datetime import datetime, timezone

from docx import Document
from pypdf import PdfReader

from pipeline import transcript as tr
from pipeline.export import pdf, redact, subtitles, word

WHEN = datetime(
    2026, 11, 30, 12, 0, tzinfo=timezone.utc
)  # documents are dated by the review, not the clock
QUESTION = "Когда вы в последний раз видели брата? Он звонил вам после этого?"


def words(text, start, end, pause_after=None):
    """Evenly timed words; a 1 s pause after the word numbered ``pause_after``."""
    parts = text.split()
    step = (end - start - (1.0 if pause_after is not None else 0)) / len(parts)
    out, at = [], start
    for i, part in enumerate(parts):
        out.append(
            {"start": round(at, 3), "end": round(at + step, 3), "text": part, "probability": 0.9}
        )
        at += step + (1.0 if i == pause_after else 0)
    return out


def interview():
    segments = [
        tr.Segment(
            1,
            0.0,
            6.0,
            "ru",
            QUESTION,
            "When did you last see your brother, the one who worked in Urumqi? "
            "Did he call you after that, even once?",
            speaker="Interviewer",
            words=words(QUESTION, 0.0, 6.0, pause_after=6),
        ),
        tr.Segment(2, 6.5, 9.0, "kk", "Былтыр көктемде.", "Last spring.", speaker="Witness"),
        tr.Segment(
            3, 9.0, 11.0, "kk", "Содан бері хабар жоқ.", "No word since then.", speaker="Witness"
        ),
        tr.Segment(4, 11.5, 13.0, "ru", "Спасибо.", "Thank you.", speaker="Interviewer"),
    ]
    return tr.Transcript(
        "i1",
        "KZ-7",
        "kk",
        {"sha256": "ab" * 32, "duration_s": 13.0},
        {"status": "complete"},
        segments,
        review={"status": "reviewed", "reviewers": ["Aigerim"], "withheld_terms": []},
    )


def test_speaker_names_are_in_the_docx_and_the_pdf_text():
    t = interview()
    for bilingual in (False, True):
        doc = Document(io.BytesIO(word.render(t, "KZ-7_abababab", bilingual, False, WHEN)))
        text = "\n".join(
            [p.text for p in doc.paragraphs]
            + [c.text for table in doc.tables for row in table.rows for c in row.cells]
        )
        assert (
            "Interviewer: When did you last see your brother" in text
            or "Interviewer:\nWhen" in text
        )
        assert text.count("Witness:") == (2 if not bilingual else 4)
        pages = PdfReader(io.BytesIO(pdf.render(t, "KZ-7_abababab", bilingual, False, WHEN))).pages
        pdf_text = "\n".join(page.extract_text() for page in pages)
        assert pdf_text.count("Interviewer:") >= 2 and pdf_text.count("Witness:") >= 2


def test_subtitles_name_the_speaker_where_the_speaker_changes():
    cues = subtitles.cues(interview().segments, duration=13.0)
    first_lines = [" ".join(c.lines) for c in cues]
    assert first_lines[0].startswith("[Interviewer] When did you last see")
    assert (
        sum(line.startswith("[Witness]") for line in first_lines) == 1
    )  # not again for the same speaker
    assert first_lines[-1] == "[Interviewer] Thank you."


def test_subtitles_change_at_a_pause_in_the_speech():
    seg = interview().segments[0]
    cues = [c for c in subtitles.cues([seg], duration=13.0)]
    assert len(cues) == 2
    pause_start, pause_end = seg.words[6]["end"], seg.words[7]["start"]
    assert (
        cues[0].end == cues[1].start == round((pause_start + pause_end) / 2, 3)
    )  # in the pause's middle
    # The source-language subtitles are cut after the sentence, timed by the words.
    vtt = tr.vtt([seg])
    assert "брата?\n" in vtt and f"\n{tr.timestamp(seg.words[7]['start'])} --> " in vtt


def test_exports_keep_word_times_but_not_the_words():
    t = interview()
    t.review["withheld_terms"] = ["брата"]
    t.speakers = {
        "model": "resemblyzer VoiceEncoder",
        "names": {"S1": "Interviewer", "S2": "Witness"},
    }
    out = redact.redacted(t)
    assert [len(w["text"]) for w in out.segments[0].words] == [
        len(w["text"]) for w in t.segments[0].words
    ]
    assert all(set(w["text"]) == {"x"} for w in out.segments[0].words)
    assert out.speakers == {"model": "resemblyzer VoiceEncoder"}
