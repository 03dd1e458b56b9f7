"""Witness protection in exports, on real speech and a real face: withheld names muted at their
word times, voices disguised (checked with resemblyzer's encoder), faces blurred (checked with
the detector itself), and a protected interview refused as video without its protections."""

import json
import re
import subprocess
import zipfile
from pathlib import Path

import cv2
import httpx
import matplotlib
import numpy as np
import pytest
import soundfile

from pipeline import intake
from pipeline import transcript as tr
from pipeline.export import faces, protect, redact, voice
from pipeline.export.documents import ExportError
from pipeline.media import ffmpeg_binary
from pipeline.review.accounts import Accounts
from pipeline.store import Store

from builders import sound_of
from conftest import KK_CLIP, KK_CLIPS

NAME, NAME_EN = "Ерлан", "Erlan"
PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"  # ships in the wheel
SIZE, RATE = (192, 144), 5
# Over kzaudio_19's real speech: a phrase (0-1.2 s), a pause, a phrase with the name (1.75-4.35 s).
WORDS = [
    (1.75, 2.05, " Мен"),
    (2.10, 2.60, f" {NAME}"),
    (2.65, 3.05, " туралы"),
    (3.15, 3.75, " айтамын"),
    (3.85, 4.05, " сізге"),
    (4.05, 4.35, " бүгін."),
]
INTERVIEWER = "kzaudio_20.flac"  # the interviewer; the other clips are the interviewee


def seg(i, start, end, text, english, words=()):
    return tr.Segment(
        i,
        start,
        end,
        "kk",
        text,
        english,
        reviewed=True,
        words=[{"start": a, "end": b, "text": w, "probability": 0.9} for a, b, w in words],
    )


def face_frames(count: int) -> list[np.ndarray]:
    """A real face (Grace Hopper's photograph) moving across a plain picture."""
    photo = cv2.resize(cv2.imread(str(PHOTO)), (86, 100))
    frames = []
    for n in range(count):
        frame = np.full((SIZE[1], SIZE[0], 3), 80, np.uint8)
        x = 8 + n * 4
        frame[22:122, x : x + 86] = photo
        frames.append(frame)
    return frames


def frames_of(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg_binary(),
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIZE[1], SIZE[0], 3)


def rms(audio: np.ndarray, start: float, end: float) -> float:
    return float(np.sqrt(np.mean(audio[int(start * 16000) : int(end * 16000)] ** 2)))


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> Path:
    """The real-speech clip under a picture of a real face, as an interview is filmed."""
    folder = tmp_path_factory.mktemp("faces")
    frames = face_frames(int(4.9 * RATE))
    path = folder / "witness.mp4"
    subprocess.run(
        [
            ffmpeg_binary(),
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{SIZE[0]}x{SIZE[1]}",
            "-framerate",
            str(RATE),
            "-i",
            "-",
            "-i",
            str(KK_CLIP),
            "-shortest",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(path),
        ],
        input=b"".join(f.tobytes() for f in frames),
        check=True,
    )
    (folder / "witness.toml").write_text(
        'case_id = "KZ-5"\nlanguage = "kk"\nprotect = ["voice", "faces"]\n'
    )
    return path


@pytest.fixture
def protected(home, cli, argos_ru, face_video):
    """A processed, reviewed interview marked protected by its sidecar, with a name withheld."""
    assert cli("models", "add", argos_ru).exit_code == 0
    assert cli("keys", "init", "--org", "press@example.org").exit_code == 0
    result = cli("process", face_video)
    assert result.exit_code == 0, result.output
    [folder] = (home.outbox / "KZ-5").iterdir()
    t = tr.load(folder / tr.MACHINE_FILE)
    t.segments = [
        seg(0, 0.0, 1.2, "Біз қалада тұрамыз.", "We live in the city."),
        seg(
            1,
            1.75,
            4.35,
            f"Мен {NAME} туралы айтамын сізге бүгін.",
            f"I tell you today about {NAME_EN}.",
            WORDS,
        ),
    ]
    t.review = {**t.review, "status": "reviewed", "reviewers": ["Aigerim Bekova"]}
    tr.write_atomic(folder / tr.REVIEWED_FILE, t.to_json())
    assert cli("withhold", folder.name, NAME, NAME_EN).exit_code == 0
    return folder, f"KZ-5_{t.source['sha256'][:8]}"


def test_a_protected_interview_leaves_only_protected(home, cli, protected, tmp_path):
    folder, ref = protected
    refused = cli("export", folder.name, "--format", "mp4,packet")
    assert refused.exit_code == 1
    message = " ".join(refused.output.split())
    assert "is marked protected" in message and "would leave without: voice, faces" in message
    assert "--protect voice,faces" in message and not (folder / "export").exists()
    assert cli("export", folder.name, "--format", "mp4", "--protect", "voice").exit_code == 1
    assert cli("export", folder.name, "--format", "mp4", "--protect", "ears").exit_code == 1

    result = cli("export", folder.name, "--format", "mp4,burned,packet", "--protect", "all")
    assert result.exit_code == 0, result.output
    video = folder / "export" / f"{ref}.en-subtitles.mp4"

    # names: the withheld word's span is silent, the segment's other words are not.
    sound = sound_of(video)
    assert rms(sound, 2.05, 2.6) < 1e-3
    assert (
        rms(sound, 3.2, 3.7) > 0.02 and rms(sound, 3.9, 4.3) > 0.02 and rms(sound, 0.1, 1.1) > 0.02
    )
    track = subprocess.run(
        [
            ffmpeg_binary(),
            "-loglevel",
            "error",
            "-i",
            str(video),
            "-map",
            "0:s:0",
            "-f",
            "srt",
            "-",
        ],
        capture_output=True,
    ).stdout.decode()
    assert "[name withheld]" in track and NAME_EN not in track

    # voice: further from the witness's own voice than two different real people are, on average.
    from resemblyzer import VoiceEncoder, preprocess_wav

    encoder = VoiceEncoder("cpu", verbose=False)

    def embed(audio):
        return encoder.embed_utterance(preprocess_wav(audio, 16000))

    clips = {
        p.name: embed(soundfile.read(p, dtype="float32")[0])
        for p in sorted(KK_CLIPS.glob("*.flac"))
    }
    different = np.mean(
        [clips[INTERVIEWER] @ e for name, e in clips.items() if name != INTERVIEWER]
    )
    assert embed(sound) @ clips[KK_CLIP.name] < different

    # faces: the detector finds the face in (nearly) every frame going in, and in none coming out.
    detector = faces.Detector()
    before = [bool(detector.find(f)) for f in frames_of(next(home.evidence.rglob("witness.mp4")))]
    assert sum(before) >= 0.8 * len(before)
    for made in (video, folder / "export" / f"{ref}.en-burned.mp4"):
        assert not any(detector.find(frame.copy()) for frame in frames_of(made))

    # The packet says which protections were applied, and never how.
    packet = folder / "export" / f"{ref}.press-packet.zip"
    with zipfile.ZipFile(packet) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        readme = zf.read("README.txt").decode()
    assert manifest["protections"] == {
        "applied": ["names", "voice", "faces"],
        "not_applied": [],
        "videos": True,
    }
    for line in (
        "Names in the sound: MUTED",
        "Voices: DISGUISED",
        "Faces: BLURRED",
        "may still link",
    ):
        assert line in readme, line
    assert "blur or crop anything identifying you notice" not in readme
    assert not re.search(
        r"alpha|coefficient|0\.\d{2}", readme + json.dumps(manifest["protections"])
    )
    checked = cli("verify-packet", packet)
    assert checked.exit_code == 0, checked.output
    assert (
        "ok   protections: withheld names muted" in checked.output
        and "Not applied: none" in checked.output
    )
    assert "protections: names, voice, faces" in checked.output  # the video's Content Credentials

    # Text alone carries no voice or face: it may leave, and the packet says so.
    assert (
        cli("export", folder.name, "--format", "srt,packet", "--out", tmp_path / "text").exit_code
        == 0
    )
    with zipfile.ZipFile(next((tmp_path / "text").glob("*.zip"))) as zf:
        assert "There is no video or sound in this packet." in zf.read("README.txt").decode()


def test_only_an_admin_may_export_a_protected_interview_without_protection(
    home, protected, review_server
):
    folder, _ = protected
    accounts = Accounts(home)
    accounts.add("Dana", "press", "correct horse battery")
    accounts.add("Admin", "admin", "correct horse battery")
    accounts.close()
    server = review_server(home)
    path = f"/api/interviews/{folder.name}/press/export"

    def session(name):
        c = httpx.Client(base_url=server.base, timeout=60)
        token = re.search(r'name="csrftoken" value="([^"]+)"', c.get("/login").text)[1]
        c.post(
            "/login",
            data={
                "name": name,
                "password": "correct horse battery",
                "csrftoken": token,
                "next": "/",
            },
        )
        return lambda body: c.post(
            path,
            json=body,
            headers={"X-CSRFToken": c.cookies.get(f"testimony-csrf-{server.port}", "")},
        )

    press = session("Dana")
    reply = press({"formats": "mp4", "without_protection": True})
    assert reply.status_code == 403 and "only an admin" in reply.text
    assert not (folder / "export").exists()
    admin = session("Admin")
    reply = admin({"formats": "mp4", "without_protection": True})
    assert reply.status_code == 200, reply.text
    events = [
        json.loads(e["detail"])
        for e in Store(home.database).events(folder.name)
        if e["kind"] == "export"
    ]
    assert events[-1]["protections"] == [] and events[-1]["protections_overridden_by"] == "Admin"


def test_name_spans_follow_word_times_and_widen_when_unsure():
    words = [
        (1.0, 1.3, " Мен"),
        (1.4, 1.8, f" {NAME}ның"),
        (1.9, 2.2, " үйі"),
        (2.5, 2.6, f" {NAME}"),
        (2.9, 3.2, " бар."),
    ]
    t = tr.Transcript(
        "i",
        "KZ-1",
        "kk",
        {},
        {},
        [
            seg(0, 1.0, 3.2, f"Мен {NAME}ның үйі {NAME} бар.", "", words),
            seg(1, 4.0, 5.0, f"{NAME} келді.", ""),  # no word times
            seg(2, 6.0, 7.0, "Басқа сөз.", "", [(6.0, 7.0, " Басқа сөз.")]),
            tr.Segment(3, 8.0, 9.0, "kk", f"{NAME}", "", withheld=True),
        ],
    )
    t.segments[0].words[3]["probability"] = 0.2  # unsure: reaches the neighbours' edges
    t.review = {"withheld_terms": [NAME]}
    spans, whole = redact.name_spans(t)
    assert [(round(a, 3), round(b, 3)) for a, b in spans] == [
        (1.25, 1.95),
        (2.2, 2.9),
        (3.75, 5.25),
    ]
    assert whole == [1]


def test_protection_names_and_the_sidecar_are_checked(tmp_path, home):
    assert protect.parse("faces, voice") == ["voice", "faces"] and protect.parse("all") == [
        "names",
        "voice",
        "faces",
    ]
    assert protect.parse(None) == [] and protect.parse("none") == []
    with pytest.raises(ExportError, match="unknown protection ears"):
        protect.parse("voice,ears")
    sidecar = tmp_path / "a.toml"
    sidecar.write_text('protect = ["voice", "face"]\n')
    with pytest.raises(intake.IntakeError, match="protect must be a list of"):
        intake.read_sidecar(sidecar, home)


def test_every_detected_face_is_covered_in_every_frame():
    frames = face_frames(12)
    detector = faces.Detector()
    assert all(detector.find(f) for f in frames)
    blurrer = faces.Blurrer(RATE, detector)
    out = [f for frame in frames for f, _ in blurrer.push(frame.copy())] + [
        f for f, _ in blurrer.finish()
    ]
    assert len(out) == len(frames) and blurrer.report.frames_with_faces == len(frames)
    assert not any(detector.find(f) for f in out)


def test_disguise_keeps_length_loudness_and_silence():
    audio = soundfile.read(KK_CLIP, dtype="float32")[0]
    audio[16000:24000] = 0.0
    out = voice.disguise(audio, voice.random_disguise())
    assert len(out) == len(audio) and np.abs(out[16800:23200]).max() < 1e-3
    assert rms(out, 0.1, 0.9) == pytest.approx(rms(audio, 0.1, 0.9), rel=0.25)  # as loud as before
    assert not np.allclose(out, audio, atol=1e-2)


def test_each_export_draws_its_own_transform_from_the_ranges():
    draws = [voice.random_disguise() for _ in range(40)]
    assert len(set(draws)) == 40  # never one transform for two packets
    low, high = voice.SEMITONE_RANGE
    assert all(voice.ALPHA_RANGE[0] <= d.alpha <= voice.ALPHA_RANGE[1] for d in draws)
    assert all(low <= abs(d.semitones) <= high for d in draws)
    assert {d.semitones > 0 for d in draws} == {True, False}  # up for some, down for others


def test_pitch_shift_moves_the_pitch_and_keeps_the_timing():
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    up = voice.shift_pitch(tone, 4.0)
    spectrum = np.abs(np.fft.rfft(up[2000:14000] * np.hanning(12000)))
    peak = np.argmax(spectrum) * 16000 / 12000
    assert len(up) == len(tone) and peak == pytest.approx(200 * 2 ** (4 / 12), rel=0.03)
    assert np.array_equal(voice.shift_pitch(tone, 0.0), tone)


def test_long_sound_is_shifted_in_pieces_that_meet_where_it_is_quiet(monkeypatch):
    monkeypatch.setattr(voice, "PITCH_CHUNK_S", 0.5)
    monkeypatch.setattr(voice, "PITCH_SEAM_SEARCH_S", 0.25)
    t = np.arange(32000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    for gap in (0.35, 1.1):  # two pauses, each near a boundary (0.5 s, 1 s)
        tone[int(gap * 16000) : int((gap + 0.1) * 16000)] = 0.0
    seams = voice._quiet_seams(tone)
    assert len(seams) == 3 and all(
        0.35 <= s / 16000 <= 0.45 or 1.1 <= s / 16000 <= 1.2 for s in seams[:2]
    )
    up = voice.shift_pitch(tone, -3.0)
    spoken = [s for s in range(5, 95) if not (17 <= s <= 23 or 55 <= s <= 61)]
    levels = [rms(up, s / 50, (s + 1) / 50) for s in spoken]  # 20 ms each, away from the pauses
    assert len(up) == len(tone)
    assert min(levels) > 0.6 * max(levels)  # no dip where the pieces meet


def test_bench_protect_scores_the_attacks_on_real_speech(home, tmp_path):
    from typer.testing import CliRunner

    from pipeline.bench import bench_app
    from pipeline.bench_protect import eer

    assert eer([0.9, 0.8], [0.1, 0.2]) == 0.0 and eer([0.5, 0.1], [0.5, 0.1]) == 0.5
    out, refs = tmp_path / "protect.json", tmp_path / "refs.tsv"
    bad = CliRunner().invoke(
        bench_app, ["protect", str(KK_CLIPS / "references.tsv"), "--semitones", "5:3"]
    )
    assert bad.exit_code == 1 and "--semitones '5:3': give LOW:HIGH" in bad.output
    same = CliRunner().invoke(bench_app, ["protect", str(KK_CLIPS / "references.tsv"), "--no-asr"])
    assert same.exit_code == 1 and "give clips of at least two speakers" in same.output
    # The interviewer and the interviewee of the shipped clips: two real speakers.
    refs.write_text(
        "file\tsource\n"
        + "".join(
            f"{p}\t{'interviewer' if p.name == INTERVIEWER else 'interviewee'}\n"
            for p in sorted(KK_CLIPS.glob("*.flac"))[:4]
        )
    )
    result = CliRunner().invoke(
        bench_app, ["protect", str(refs), "--no-asr", "--draws", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["alpha_range"] == list(voice.ALPHA_RANGE)
    assert figures["semitone_range"] == list(voice.SEMITONE_RANGE)
    assert figures["linkability"]["trials"] == {"target": 4, "nontarget": 6, "draws": 1}
    assert set(figures["linkability"]["eer"]) == {"original", "ignorant", "lazy-informed"}
    assert "linkability: EER" in result.output


def _spectrum_top_hz(audio: np.ndarray, floor_db: float = -50.0) -> float:
    """The highest frequency whose long-term power is within ``floor_db`` of the strongest."""
    frames = np.lib.stride_tricks.sliding_window_view(audio, 512)[::256] * np.hanning(512)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    level = 10 * np.log10(power / power.max() + 1e-20)
    return float(np.fft.rfftfreq(512, 1 / 16000)[np.nonzero(level > floor_db)[0].max()])


@pytest.mark.xfail(
    strict=True,
    reason="known leak, found by the independent attack (docs/protection.md, 'Attacked by "
    "someone who knows the method'): a downward shift lowers the top of the spectrum",
)
def test_the_sound_does_not_tell_which_way_the_pitch_was_shifted():
    audio = soundfile.read(KK_CLIP, dtype="float32")[0]
    up = voice.disguise(audio, voice.Disguise(0.825, 4.5))
    down = voice.disguise(audio, voice.Disguise(0.825, -4.5))
    assert abs(_spectrum_top_hz(up) - _spectrum_top_hz(down)) < 1000
