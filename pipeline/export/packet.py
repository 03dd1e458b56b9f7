"""The press packet: one zip a journalist can check, with a manifest and a plain-words README.

The manifest lets a newsroom verify that a file is the one the organisation sent, and ties it
to the original recording (by SHA-256, which the organisation can re-hash from its evidence
store on request) and to the custody log (its head hash at export time); ``manifest.json.sig``
binds the manifest to the organisation's key. The README says what a machine did, what a
person checked, and how to check all of it with OpenSSH alone.

Zips are written with fixed entry dates (the review's time) and a fixed order, so the same
content always gives the same bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from ..config import PROTECTIONS
from ..hashing import sha256_file
from ..transcript import Transcript
from .documents import clock, language_names
from .signing import NAMESPACE, allowed_signers_line, fingerprint

ZIP_STORED_SUFFIXES = {".mp4", ".docx", ".zip"}  # already compressed
SIGNATURE = "manifest.json.sig"
C2PA_ROOT = "content-credentials-root.pem"


def manifest(
    t: Transcript,
    ref: str,
    files: dict[str, Path],
    provenance: dict,
    exported_at: str,
    unreviewed: bool,
    as_of: str,
    custody_head: dict,
    signer: dict,
    protections: list[str],
) -> dict:
    """Hashes and provenance of the packet's files; ``t`` must be the redacted transcript."""
    model = provenance.get("model", {})
    return {
        "packet": ref,
        "case_id": t.case_id,
        "exported_at": exported_at,
        "transcript_as_of": as_of,
        "custody_log_head": custody_head,
        "signed_by": signer,
        "unreviewed_machine_translation": unreviewed,
        # Which protections the videos had, never how: a parameter would help undo one.
        "protections": {
            "applied": list(protections),
            "not_applied": [p for p in PROTECTIONS if p not in protections],
            "videos": any(name.endswith(".mp4") for name in files),
        },
        "original_recording": {
            "sha256": t.source.get("sha256"),
            "duration_s": t.source.get("duration_s"),
            "recorded_on": t.interview.get("recorded_on"),
        },
        "provenance": {
            "transcription": {
                "engine": model.get("engine", "openai-whisper"),
                "model": model.get("name"),
                "model_sha256": model.get("sha256"),
                "processed_at": provenance.get("finished_at"),
            },
            "translation": {
                "engine": t.translation.get("engine"),
                "packages": t.translation.get("packages", {}),
                "machine_translated": True,
            },
            "review": {
                "status": t.review.get("status"),
                "reviewers": t.review.get("reviewers", []),
                "segments_checked": sum(1 for s in t.segments if s.reviewed),
                "segments": len(t.segments),
            },
            "withheld": {
                "terms": t.review.get("withheld_term_count", 0),
                "segments": [s.id for s in t.segments if s.withheld],
            },
            "software": {
                "testimony-pipeline": (provenance.get("software") or {}).get("testimony-pipeline")
            },
        },
        "files": {
            name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
            for name, path in sorted(files.items())
        },
    }


def readme(
    t: Transcript,
    ref: str,
    names: list[str],
    unreviewed: bool,
    public_line: str,
    protections: list[str],
) -> str:
    """What the journalist needs to know before quoting; ``t`` must be the redacted transcript."""
    checked = sum(1 for s in t.segments if s.reviewed)
    reviewers = ", ".join(t.review.get("reviewers") or []).rstrip(".") or "nobody"
    if unreviewed:
        status = (
            "NOT REVIEWED. This is an UNREVIEWED MACHINE TRANSLATION: no person has checked the\n"
            "transcript or the English. Do not quote it without an independent translation."
        )
    else:
        status = (
            f"Reviewed by {reviewers}. {checked} of {len(t.segments)} segments were checked, and\n"
            f"  corrected where needed, by a person against the recording; the rest is machine output."
        )
    return (
        f"""Testimony {ref} (case {t.case_id}): press packet
{"=" * (len(ref) + 32)}

Recorded: {t.interview.get("recorded_on") or "date not recorded"}. Spoken languages: {language_names(t.languages)}.
Length: {clock(t.source.get("duration_s") or 0)}.

How this text was made
- The words spoken were transcribed by speech recognition (OpenAI Whisper) and the English is
  MACHINE TRANSLATION (Argos Translate), both run offline on the organisation's own computer.
- {status}
- Timestamps refer to the recording; quote against the video, not the English alone.

Protecting people
"""
        + protection_text(t, protections, any(n.endswith(".mp4") for n in names))
        + """
"""
        + checks(public_line, any(n.endswith(".mp4") for n in names))
        + """
Files
"""
        + "".join(f"- {name}\n" for name in names)
    )


# What the README says of each protection, applied and not: plain words, never a parameter.
PROTECTION_LINES = {
    "names": (
        "Names in the sound: MUTED where a kept passage says a withheld name, at the\n"
        "  times the speech recognizer gave for the word (padded).",
        "Names in the sound: NOT muted. A withheld name can still be heard where a kept\n"
        "  passage says it.",
    ),
    "voice": (
        "Voices: DISGUISED by moving the voice's formants and pitch with a transform\n"
        "  drawn at random for this export. Someone who knows the method may still link\n"
        "  the voice to the person, and accent, way of speaking and what is said are\n"
        "  unchanged.",
        "Voices: NOT disguised. The people speaking can be recognised by their voices.",
    ),
    "faces": (
        "Faces: BLURRED where an automatic face detector found them. Detectors miss faces\n"
        "  (in profile, small, tilted, partly covered, in poor light): check every frame\n"
        "  before publishing.",
        "Faces: NOT blurred. The people filmed can be recognised by their faces.",
    ),
}


def protection_text(t: Transcript, protections: list[str], videos: bool) -> str:
    """What was done to protect people, and what was not: the README's own words."""
    withheld = sum(1 for s in t.segments if s.withheld)
    muted = "; their sound is muted in the videos." if videos else "."
    terms = t.review.get("withheld_term_count", 0)
    lines = [
        f"Names or other identifying terms withheld: {terms}, "
        f'each replaced by\n  "[name withheld]" in the text and subtitles. Passages '
        f'withheld: {withheld}, each replaced\n  by "[segment withheld]"{muted}'
    ]
    if videos:
        lines += [PROTECTION_LINES[p][0 if p in protections else 1] for p in PROTECTIONS]
    else:
        lines.append("There is no video or sound in this packet.")
    lines.append(
        "Nothing here hides what people say: places, events, jobs and relatives named\n"
        "  in the testimony can identify the witness, as can hands, clothes, rooms and\n"
        "  windows in a video. Blur or cut anything identifying before publishing."
    )
    return (
        "".join(f"- {line}\n" for line in lines)
        + "The people concerned have relatives who are still detained: please do not try to\n"
        "restore or guess what was withheld.\n"
    )


def checks(public_line: str, videos: bool) -> str:
    """The README's walk through the checks, for someone with a terminal and OpenSSH."""
    algo, blob, org = public_line.split()[:3]
    text = f"""Checking that this packet is from {org} and was not changed
1. The organisation's public key, which signed this packet, is
     {algo} {blob} {org}
   with the fingerprint
     {fingerprint(public_line)}
   Compare the fingerprint with the one {org} publishes (its website, or ask by phone).
   A packet that carries its own key proves nothing until that matches.
2. Save this line as a file named allowed_signers:
     {allowed_signers_line(public_line)}
3. Unzip the packet and, in its folder, run (OpenSSH 8.2 or newer, any system):
     ssh-keygen -Y verify -f allowed_signers -I {org} -n {NAMESPACE} -s {SIGNATURE} < manifest.json
   It must print:
     Good "{NAMESPACE}" signature for {org} with ED25519 key {fingerprint(public_line)}
4. manifest.json, now known to be the organisation's, lists the SHA-256 of every file here
   and of the original recording, which the organisation keeps unchanged.
   `sha256sum FILE` (on a Mac: `shasum -a 256 FILE`) must print the value listed for it.
   With the testimony tool installed, steps 3 and 4 (and 5) are one command:
     testimony verify-packet PACKET.zip --key org.pub   (org.pub: the key line of step 1)
"""
    if videos:
        text += f"""5. The videos carry Content Credentials (C2PA): what was done to them (subtitles, muted
   spans, metadata removed), the original's SHA-256, the review status and the model used.
   Any C2PA reader shows them; use an offline one (c2patool), as uploading sends the video
   away. The certificate is the organisation's own, not one bought from an authority, so
   readers call the signer "unknown" or "untrusted". {C2PA_ROOT} here is that
   certificate's root: `testimony verify-packet` checks that it is the key of step 1.
"""
    return text


def _entry(name: str, when: datetime, method: int) -> zipfile.ZipInfo:
    stamp = max(when.astimezone(timezone.utc), datetime(1980, 1, 1, tzinfo=timezone.utc))
    info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
    info.compress_type = method
    info.external_attr = 0o644 << 16
    return info


def write_zip(target: Path, members: dict[str, Path | bytes], when: datetime) -> None:
    """Zip ``members`` (name -> file or bytes, in that order) at ``target``, every entry dated
    ``when``; video and DOCX are stored as they are."""
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, content in members.items():
            method = (
                zipfile.ZIP_STORED
                if Path(name).suffix in ZIP_STORED_SUFFIXES
                else zipfile.ZIP_DEFLATED
            )
            with zf.open(_entry(name, when, method), "w", force_zip64=True) as out:
                if isinstance(content, Path):
                    with content.open("rb") as fh:
                        for block in iter(lambda: fh.read(1 << 20), b""):
                            out.write(block)
                else:
                    out.write(content)
    tmp.replace(target)


def rezip(data: bytes, when: datetime) -> bytes:
    """The same zip (DOCX) with every entry dated ``when``, in its own order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            zf.writestr(_entry(info.filename, when, info.compress_type), src.read(info))
    return out.getvalue()


def manifest_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
