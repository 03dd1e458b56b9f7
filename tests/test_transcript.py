import pytest

from pipeline import transcript
from pipeline.transcript import Segment, Transcript


def make(english=True) -> Transcript:
    segs = [
        Segment(
            1, 0.0, 2.5, "kk", "Менің ағам", "My brother" if english else None, -0.3, 0.01, 1.1
        ),
        Segment(
            2,
            3661.2,
            3663.04,
            "ru",
            "его забрали ночью",
            "they took him at night" if english else None,
        ),
    ]
    return Transcript(
        "mother-1a2b3c4d", "KZ-1", "kk", {"sha256": "ab" * 32}, {"status": "done"}, segs
    )


def test_json_round_trip_keeps_everything():
    t = make()
    assert Transcript.from_json(t.to_json()) == t
    assert '"schema_version": 1' in t.to_json()


def test_wrong_schema_version_is_refused():
    text = make().to_json().replace('"schema_version": 1', '"schema_version": 99')
    with pytest.raises(transcript.TranscriptError, match="schema_version"):
        Transcript.from_json(text)


def test_srt_and_vtt_timestamps():
    t = make()
    srt = transcript.srt(t.segments)
    assert "1\n00:00:00,000 --> 00:00:02,500\nМенің ағам\n" in srt
    assert "01:01:01,200 --> 01:01:03,040" in srt
    vtt = transcript.vtt(t.segments, english=True)
    assert (
        vtt.startswith("WEBVTT\n")
        and "01:01:01.200 --> 01:01:03.040\nthey took him at night" in vtt
    )


def test_english_files_only_when_translated():
    assert "transcript.en.srt" in transcript.rendered_files(make())
    assert set(transcript.rendered_files(make(english=False))) == {
        "transcript.json",
        "transcript.kk.srt",
        "transcript.kk.vtt",
    }


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "out" / "transcript.json"
    transcript.write_atomic(target, "first")
    transcript.write_atomic(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["transcript.json"]
