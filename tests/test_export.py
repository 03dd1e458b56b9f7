"""`testimony export` and `testimony withhold` end to end: a real interview processed by the
pipeline, then real python-docx, fpdf2, ffmpeg and zip outputs read back with independent readers."""

import hashlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import typer
from docx import Document
from pypdf import PdfReader
from typer.testing import CliRunner

from pipeline import transcript as tr
from pipeline.export.cli import register
from pipeline.media import ffmpeg_binary
from pipeline.store import Store

from builders import ffmpeg

NAME = "Ерлан"  # a relative still inside: must appear in no output
NAME_EN = "Erlan"
PHONE = "+7 701 555 0101"
KNOWN = [  # (start, end, language, original, English) over the 4.9 s of real speech
    (0.0, 1.4, "kk", "Менің ағам Ерлан қалада тұрады.", "My brother Erlan lives in the city."),
    (1.5, 3.0, "ru", "Его телефон +7 701 555 0101.", "His phone is +7 701 555 0101."),
    (
        3.2,
        4.9,
        "kk",
        "Оны түнде алып кетті, содан бері хабар жоқ.",
        "They took him at night and we have not heard from him since, not one word from anyone.",
    ),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run():
    """The export commands on a Typer app of their own."""
    app = typer.Typer()
    register(app, "Publish")
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(
        app, [str(a) for a in args], input=input, catch_exceptions=False
    )


@pytest.fixture(scope="module")
def tagged_video(speech_video, tmp_path_factory):
    """The real-speech clip with a phone's kind of metadata naming the family."""
    path = tmp_path_factory.mktemp("tagged") / "clip.mp4"
    ffmpeg(
        "-i",
        str(speech_video),
        "-c",
        "copy",
        "-metadata",
        f"title=Интервью {NAME}",
        "-metadata",
        f"comment={PHONE}",
        str(path),
    )
    return path


@pytest.fixture
def interview(home, cli, argos_ru, tagged_video):
    """A processed interview of case KZ-7, and its reviewed.json carrying known text."""
    assert cli("models", "add", argos_ru).exit_code == 0
    assert (
        cli("keys", "init", "--org", "press@example.org").exit_code == 0
    )  # packets and videos are signed
    result = cli("process", tagged_video, "--case", "KZ-7", "--language", "ru")
    assert result.exit_code == 0, result.output
    [folder] = (home.outbox / "KZ-7").iterdir()
    t = tr.load(folder / tr.MACHINE_FILE)
    t.segments = [
        tr.Segment(i, a, b, lang, text, english, reviewed=i != 2)
        for i, (a, b, lang, text, english) in enumerate(KNOWN)
    ]
    t.interview = {**t.interview, "recorded_on": "2024-03-02", "notes": f"at {NAME}'s sister"}
    return folder, t


def save(folder: Path, t: tr.Transcript, status: str) -> None:
    t.review = {**t.review, "status": status, "reviewers": ["Aigerim Bekova", "Daniyar T."]}
    tr.write_atomic(folder / tr.REVIEWED_FILE, t.to_json())


def docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    parts += [cell.text for table in doc.tables for row in table.rows for cell in row.cells]
    parts += [p.text for s in doc.sections for p in s.header.paragraphs + s.footer.paragraphs]
    return "\n".join(parts)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def ffmpeg_out(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_binary(), "-hide_banner", "-nostdin", *args], capture_output=True)


def stream_lines(path: Path) -> list[str]:
    return re.findall(r"Stream #0:\d+.*", ffmpeg_out("-i", str(path)).stderr.decode())


def rms(path: Path, start: float, end: float) -> float:
    pcm = ffmpeg_out(
        "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"
    ).stdout
    audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
    return float(np.sqrt(np.mean(audio[int(start * 16000) : int(end * 16000)] ** 2)))


def leaks(name: str, data: bytes) -> list[str]:
    """Where the withheld words occur in a file, looking inside zips (DOCX, packet) too."""
    found = []
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                found += leaks(f"{name}/{member}", zf.read(member))
    text = data.decode("utf-8", "ignore").casefold()
    if name.endswith(".pdf"):
        text = "\n".join(pdf_pages(data)).casefold()
    for word in (NAME, NAME_EN, PHONE):
        if word.casefold() in text:
            found.append(f"{word} in {name}")
    return found


def test_unreviewed_interview_is_refused_with_the_reason_and_the_ways_out(home, interview, run):
    folder, t = interview
    save(folder, t, "in_progress")
    result = run("export", "KZ-7")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "is not reviewed (review status: in_progress)" in message
    assert "only a reviewed transcript is exported" in message and "--allow-unreviewed" in message
    assert not (folder / "export").exists()


def test_unreviewed_export_is_marked_on_every_page_and_in_the_subtitles(
    home, interview, run, tmp_path
):
    folder, t = interview
    t.segments = [
        tr.Segment(
            i,
            i * 0.1,
            i * 0.1 + 0.1,
            "kk",
            f"сөз {i}",
            f"Sentence number {i} of a long testimony that needs more than one page.",
        )
        for i in range(45)
    ]
    save(folder, t, "unreviewed")
    result = run(
        "export",
        "KZ-7",
        "--allow-unreviewed",
        "--format",
        "pdf,docx,srt,vtt",
        "--out",
        tmp_path / "o",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "o" / folder.name  # a case's interviews each get a folder under --out
    ref = f"KZ-7_{t.source['sha256'][:8]}"
    pages = pdf_pages((out / f"{ref}.en.pdf").read_bytes())
    assert len(pages) >= 2 and all("UNREVIEWED MACHINE TRANSLATION" in page for page in pages)
    doc = Document(out / f"{ref}.en.docx")
    assert "UNREVIEWED MACHINE TRANSLATION" in doc.sections[0].header.paragraphs[0].text
    srt = (out / f"{ref}.en.srt").read_text()
    assert (
        srt.startswith("1\n00:00:00,000 --> 00:00:04,9") and "UNREVIEWED MACHINE TRANSLATION" in srt
    )
    assert "UNREVIEWED MACHINE TRANSLATION" in (out / f"{ref}.en.vtt").read_text()


def test_withhold_keeps_terms_out_of_logs_and_checks_segment_ids(home, interview, run):
    folder, t = interview
    save(folder, t, "reviewed")
    assert run("withhold", folder.name, "--segment", "9").exit_code == 1
    result = run("withhold", "KZ-7", "-", "--segment", "1", input=f"{NAME}\n{NAME_EN}\n")
    assert result.exit_code == 0, result.output
    assert "2 term(s) added" in result.output and NAME not in result.output
    reviewed = tr.load(folder / tr.REVIEWED_FILE)
    assert reviewed.review["withheld_terms"] == [NAME, NAME_EN] and reviewed.segments[1].withheld
    assert (
        tr.load(folder / tr.MACHINE_FILE).review["withheld_terms"] == []
    )  # machine output untouched
    store = Store(home.database)
    [event] = [e for e in store.events(folder.name) if e["kind"] == "withhold"]
    detail = json.loads(event["detail"])
    assert detail["terms_added"] == 2 and detail["segments"] == [1]
    assert detail["reviewed"]["sha256"] == sha256(folder / tr.REVIEWED_FILE)
    logged = "".join(str(tuple(e)) for e in store.events()) + home.log_file.read_text()
    assert NAME.casefold() not in logged.casefold() and NAME_EN.casefold() not in logged.casefold()


def test_export_refuses_a_folder_the_watcher_reads(home, interview, run):
    folder, t = interview
    save(folder, t, "reviewed")
    result = run("export", folder.name, "--format", "srt", "--out", home.inbox / "exports")
    assert result.exit_code == 1 and "choose another --out folder" in result.output
    assert not (home.inbox / "exports").exists()


def test_reviewed_export_protects_people_in_every_format(home, interview, run):
    folder, t = interview
    save(folder, t, "reviewed")
    assert run("withhold", folder.name, NAME, NAME_EN, PHONE, "--segment", "1").exit_code == 0
    (folder / "export").mkdir()
    stale = folder / "export" / f"KZ-7_{t.source['sha256'][:8]}.en-burned.mp4"
    stale.write_bytes(b"made before the withhold")
    evidence = Path(Store(home.database).jobs()[0].evidence_path)
    evidence_sha = sha256(evidence)

    result = run("export", folder.name, "--format", "all", "--bilingual")
    assert result.exit_code == 0, result.output
    assert "subtitled  100%" in result.output and "burned-in  100%" in result.output  # progress
    # Segment 0 still says the name aloud (only segment 1 is withheld): the press officer is told.
    assert (
        "segment(s) 0 contain a withheld term" in result.output and "--segment 0" in result.output
    )
    out = folder / "export"
    ref = f"KZ-7_{t.source['sha256'][:8]}"
    files = {p.name: p for p in out.iterdir()}
    assert sorted(files) == sorted(
        f"{ref}{s}"
        for s in (
            ".en.docx",
            ".en.pdf",
            ".en.srt",
            ".en.vtt",
            ".en-subtitles.mp4",
            ".en-burned.mp4",
            ".press-packet.zip",
        )
    )
    assert stale.read_bytes() != b"made before the withhold"

    # DOCX and PDF: header fields and the segments, original and English side by side.
    for text in (
        docx_text(files[f"{ref}.en.docx"].read_bytes()),
        "\n".join(pdf_pages(files[f"{ref}.en.pdf"].read_bytes())),
    ):
        flat = " ".join(text.split())
        for field in (
            "Case ID",
            "KZ-7",
            "2024-03-02",
            "Kazakh (kk), Russian (ru)",
            "00:00:04",
            "reviewed",
            "Aigerim Bekova, Daniyar T.",
            "2 of 3 segments checked",
            evidence_sha,
        ):
            assert field in flat, field
        assert (
            "00:00:00–00:00:01" in flat and "My brother [name withheld] lives in the city." in flat
        )
        assert "Менің ағам [name withheld] қалада тұрады." in flat  # Kazakh letters survive
        assert "[segment withheld]" in flat and "not heard from him since" in flat
        assert "UNREVIEWED" not in flat

    # Soft subtitles: an English mov_text stream whose cues read back without the name.
    soft = files[f"{ref}.en-subtitles.mp4"]
    streams = stream_lines(soft)
    assert any("Video: h264" in s for s in streams) and any("Audio: aac" in s for s in streams)
    assert any(re.search(r"\(eng\).*Subtitle: mov_text", s) for s in streams), streams
    track = ffmpeg_out("-i", str(soft), "-map", "0:s:0", "-f", "srt", "-").stdout.decode()
    assert "My brother [name withheld]" in track and "[segment withheld]" in track
    assert not any("Subtitle" in s for s in stream_lines(files[f"{ref}.en-burned.mp4"]))

    # Withheld segment 1 (1.5-3.0 s) is silent, padded; the speech around it is not.
    for video in (soft, files[f"{ref}.en-burned.mp4"]):
        assert rms(video, 1.35, 3.15) < 1e-3
        assert rms(video, 0.1, 1.0) > 0.02 and rms(video, 3.5, 4.7) > 0.02

    # Subtitles are timed for reading.
    srt = files[f"{ref}.en.srt"].read_text()
    for block in srt.strip().split("\n\n"):
        lines = block.splitlines()[2:]
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)

    # The packet: manifest hashes match the members, the recording's hash is the evidence's.
    with zipfile.ZipFile(files[f"{ref}.press-packet.zip"]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        readme = zf.read("README.txt").decode()
        members = {n: zf.read(n) for n in zf.namelist()}
    assert (
        set(members) == {*manifest["files"], "manifest.json", "manifest.json.sig"}
        and "README.txt" in manifest["files"]
    )
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(members[name]).hexdigest() == entry["sha256"]
        if name in files:
            assert sha256(files[name]) == entry["sha256"]
    assert manifest["original_recording"]["sha256"] == evidence_sha
    assert manifest["provenance"]["review"]["reviewers"] == ["Aigerim Bekova", "Daniyar T."]
    assert manifest["provenance"]["withheld"] == {"terms": 3, "segments": [1]}
    assert "MACHINE TRANSLATION" in readme and "2 of 3 segments were checked" in readme

    # The name, in either script, and the phone number: in no output at all.
    found = [hit for name, path in files.items() for hit in leaks(name, path.read_bytes())]
    assert found == []

    # Chain of custody: the event names every file by absolute path and hash; the original is untouched.
    store = Store(home.database)
    [event] = [json.loads(e["detail"]) for e in store.events(folder.name) if e["kind"] == "export"]
    assert event["files"] == {str(p): sha256(p) for p in files.values()}
    assert event["removed"] == [] and event["unreviewed"] is False
    assert sha256(evidence) == evidence_sha and NAME in (folder / tr.REVIEWED_FILE).read_text()
