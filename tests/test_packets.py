"""Signed press packets, Content Credentials, reproducible exports and a truthful `verify`:
a real processed interview, the real ssh-keygen, c2pa-python and ffmpeg as independent checkers."""

import hashlib
import json
import os
import stat
import subprocess
import time
import zipfile
from pathlib import Path

import c2pa
import pytest

from pipeline import transcript as tr
from pipeline.export import signing
from pipeline.media import ffmpeg_binary
from pipeline.store import Store

from conftest import wait_until

ORG = "press@example.org"
FORMATS = "docx,pdf,srt,vtt,mp4,packet"
DOCUMENTS = (".en.docx", ".en.pdf", ".en.srt", ".en.vtt")
KNOWN = [
    (0.0, 1.4, "kk", "Менің ағам Ерлан қалада тұрады.", "My brother Erlan lives in the city."),
    (1.5, 3.0, "ru", "Его забрали ночью.", "They took him at night."),
    (3.2, 4.9, "kk", "Содан бері хабар жоқ.", "We have not heard from him since."),
]


@pytest.fixture
def reviewed(home, cli, argos_ru, speech_video):
    """A processed, reviewed interview with segment 1 withheld, and the organisation key made."""
    assert cli("models", "add", argos_ru).exit_code == 0
    assert cli("keys", "init", "--org", ORG).exit_code == 0
    result = cli("process", speech_video, "--case", "KZ-9", "--language", "ru")
    assert result.exit_code == 0, result.output
    [folder] = (home.outbox / "KZ-9").iterdir()
    t = tr.load(folder / tr.MACHINE_FILE)
    t.segments = [
        tr.Segment(i, a, b, lang, text, english, reviewed=True)
        for i, (a, b, lang, text, english) in enumerate(KNOWN)
    ]
    t.review = {**t.review, "status": "reviewed", "reviewers": ["Aigerim Bekova"]}
    tr.write_atomic(folder / tr.REVIEWED_FILE, t.to_json())
    assert cli("withhold", folder.name, "--segment", "1").exit_code == 0
    return folder, f"KZ-9_{t.source['sha256'][:8]}"


def rezip(source: Path, target: Path, change: dict) -> Path:
    """A copy of a packet with members replaced (bytes) or removed (None)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for name in src.namelist():
            data = change.get(name, src.read(name))
            if data is not None:
                out.writestr(name, data)
    return target


def ssh_verify(
    folder: Path, allowed: str, manifest: bytes, sig: bytes
) -> subprocess.CompletedProcess:
    (folder / "allowed_signers").write_text(allowed + "\n")
    (folder / "manifest.json.sig").write_bytes(sig)
    return subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(folder / "allowed_signers"),
            "-I",
            ORG,
            "-n",
            "testimony-packet",
            "-s",
            str(folder / "manifest.json.sig"),
        ],
        input=manifest,
        capture_output=True,
    )


def stream_hash(path: Path, stream: str) -> str:
    """ffmpeg's own hash of one stream's packets, as the issue asks (-f hash)."""
    out = subprocess.run(
        [
            ffmpeg_binary(),
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            f"0:{stream}",
            "-c",
            "copy",
            "-f",
            "hash",
            "-hash",
            "sha256",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return out.stdout.decode().strip()


def test_keys_init_and_show(home, cli):
    result = cli("keys", "init", "--org", "Two Words")
    assert result.exit_code == 1 and "no spaces" in result.output
    result = cli("keys", "init", "--org", ORG)
    assert result.exit_code == 0, result.output
    private = home.home / "keys" / "org_ed25519"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    shown = cli("keys", "show").output.splitlines()
    assert shown[0].startswith("ssh-ed25519 AAAA") and shown[0].endswith(ORG)
    (home.home / "shown.pub").write_text(shown[0] + "\n")
    openssh = subprocess.run(
        ["ssh-keygen", "-lf", str(home.home / "shown.pub")], capture_output=True, text=True
    )
    assert openssh.stdout.split()[1] == shown[1]  # the fingerprint OpenSSH prints
    assert (
        cli("keys", "init", "--org", ORG).exit_code == 1
    )  # never replaced: packets were signed with it
    secret = private.read_text().split("\n")[1]
    assert secret not in home.log_file.read_text() and secret not in result.output


def test_packet_is_signed_checkable_with_openssh_and_verify_packet(home, cli, reviewed, tmp_path):
    folder, ref = reviewed
    result = cli("export", folder.name, "--format", FORMATS)
    assert result.exit_code == 0, result.output
    packet = folder / "export" / f"{ref}.press-packet.zip"
    with zipfile.ZipFile(packet) as zf:
        names = zf.namelist()
        manifest, sig, readme = (
            zf.read("manifest.json"),
            zf.read("manifest.json.sig"),
            zf.read("README.txt"),
        )
        video = zf.read(f"{ref}.en-subtitles.mp4")
    assert names[-2:] == ["manifest.json", "manifest.json.sig"]
    assert not any(
        "org_ed25519" in n or n.endswith(".key") for n in names
    )  # no private key travels
    key_line = cli("keys", "show").output.splitlines()[0]
    fingerprint = cli("keys", "show").output.splitlines()[1]
    data = json.loads(manifest)
    head = (home.home / "custody.head").read_text().split()
    export_entry = max(e["id"] for e in Store(home.database).events())
    assert (
        data["custody_log_head"]["entry"] == export_entry - 1
    )  # the log as it was just before export
    assert data["signed_by"]["fingerprint"] == fingerprint and int(head[0]) == export_entry

    # The README gives the journalist the command, the key and its fingerprint.
    text = readme.decode()
    allowed = f'{ORG} namespaces="testimony-packet" {" ".join(key_line.split()[:2])}'
    assert allowed in text and fingerprint in text
    assert (
        f"ssh-keygen -Y verify -f allowed_signers -I {ORG} -n testimony-packet -s manifest.json.sig"
        in text
    )

    # Real OpenSSH: good signature; one byte of the manifest changed, refused.
    good = ssh_verify(tmp_path, allowed, manifest, sig)
    assert (
        good.returncode == 0
        and f'Good "testimony-packet" signature for {ORG}' in good.stdout.decode()
    )
    flipped = bytearray(manifest)
    flipped[len(flipped) // 2] ^= 0x01
    assert ssh_verify(tmp_path, allowed, bytes(flipped), sig).returncode != 0

    # verify-packet: intact passes, with the published key given as a file.
    (tmp_path / "org.pub").write_text(key_line + "\n")
    ok = cli("verify-packet", packet, "--key", tmp_path / "org.pub")
    assert ok.exit_code == 0, ok.output
    assert "everything checks out" in ok.output and "Trusted" in ok.output

    changed = rezip(
        packet,
        tmp_path / "changed.zip",
        {f"{ref}.en.srt": b"1\n00:00:00,000 --> 00:00:01,000\nlie\n"},
    )
    out = cli("verify-packet", changed, "--key", tmp_path / "org.pub")
    assert out.exit_code == 1 and f"FAIL {ref}.en.srt: changed" in out.output

    removed = rezip(packet, tmp_path / "removed.zip", {f"{ref}.en.pdf": None})
    out = cli("verify-packet", removed, "--key", tmp_path / "org.pub")
    assert (
        out.exit_code == 1
        and f"FAIL {ref}.en.pdf: listed in the manifest but missing" in out.output
    )

    # Someone rewrites a file and the manifest, and signs with their own key.
    other = signing.init(tmp_path / "other", "impostor")
    forged = json.loads(manifest)
    forged["files"][f"{ref}.en.srt"]["sha256"] = hashlib.sha256(b"lie").hexdigest()
    body = json.dumps(forged).encode()
    resigned = rezip(
        packet,
        tmp_path / "resigned.zip",
        {
            "manifest.json": body,
            f"{ref}.en.srt": b"lie",
            "manifest.json.sig": signing.sign(other, body).encode(),
        },
    )
    out = cli("verify-packet", resigned, "--key", tmp_path / "org.pub")
    assert out.exit_code == 1 and "not by the organisation's key" in out.output

    # The video's Content Credentials, read back with c2pa-python itself.
    (tmp_path / "video.mp4").write_bytes(video)
    reader = c2pa.Reader(str(tmp_path / "video.mp4"))
    active = reader.get_active_manifest()
    facts = next(a["data"] for a in active["assertions"] if a["label"] == "org.testimony.export")
    assert facts["source_sha256"] == data["original_recording"]["sha256"]
    assert facts["muted_spans"] == 1 and facts["review_status"] == "reviewed"
    assert facts["model"]["name"] == "tiny" and "track" in facts["subtitles"]
    assert (
        reader.get_validation_state() in ("Valid", "Trusted")
        and active["signature_info"]["alg"] == "Ed25519"
    )


def test_exports_are_reproducible_and_verify_tells_the_truth(home, cli, reviewed, tmp_path):
    folder, ref = reviewed
    out = folder / "export"
    assert cli("export", folder.name, "--format", FORMATS).exit_code == 0
    first = {s: (out / f"{ref}{s}").read_bytes() for s in DOCUMENTS}
    video = out / f"{ref}.en-subtitles.mp4"
    streams = (stream_hash(video, "v"), stream_hash(video, "a"))
    (tmp_path / "first.mp4").write_bytes(video.read_bytes())
    # Documents and zips carry dates to 2 s: let the clock move past that before exporting again.
    started = time.time()
    wait_until(lambda: time.time() > started + 2.5, what="the clock to move on")

    assert cli("export", folder.name, "--format", FORMATS).exit_code == 0
    for suffix in DOCUMENTS:
        assert (out / f"{ref}{suffix}").read_bytes() == first[suffix], suffix
    assert (stream_hash(video, "v"), stream_hash(video, "a")) == streams
    assert (
        video.read_bytes() != (tmp_path / "first.mp4").read_bytes()
    )  # only the credentials differ

    # Exported twice to the same folder: the newer export is checked, the older one was replaced.
    result = cli("verify", "KZ-9")
    assert result.exit_code == 0, result.output
    assert "replaced on" in result.output and " 0 not" in result.output

    # Carried away on a USB stick and deleted here: reported, not a failure.
    (out / f"{ref}.en.pdf").unlink()
    result = cli("verify", "KZ-9")
    assert result.exit_code == 0, result.output
    assert f"{ref}.en.pdf: not here (sent away?)" in result.output

    # Present but changed: a failure.
    with open(out / f"{ref}.en.srt", "a") as fh:
        fh.write("\n")
    result = cli("verify", "KZ-9")
    assert (
        result.exit_code == 1 and f"{ref}.en.srt: differs from what was exported" in result.output
    )


def test_export_without_a_key_says_how_to_make_one(home, cli, argos_ru, speech_video):
    assert cli("models", "add", argos_ru).exit_code == 0
    assert cli("process", speech_video, "--case", "KZ-9", "--language", "ru").exit_code == 0
    [folder] = (home.outbox / "KZ-9").iterdir()
    result = cli("export", folder.name, "--allow-unreviewed")
    assert result.exit_code == 1 and "testimony keys init --org NAME" in result.output
    assert (
        cli("export", folder.name, "--allow-unreviewed", "--format", "srt").exit_code == 0
    )  # no signing needed
    assert not os.path.exists(home.home / "keys")
