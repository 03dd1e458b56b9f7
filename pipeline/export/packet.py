"""The press packet: one zip a journalist can check, with a manifest and a plain-words README.

The manifest lets a newsroom verify that a file is the one the organisation sent, and ties it
to the original recording (by SHA-256, which the organisation can re-hash from its evidence
store on request); the README says what a machine did and what a person checked.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from ..transcript import Transcript
from .documents import clock, language_names

ZIP_STORED_SUFFIXES = {".mp4", ".docx", ".zip"}  # already compressed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(t: Transcript, ref: str, files: dict[str, Path], provenance: dict, exported_at: str,
             unreviewed: bool) -> dict:
    """Hashes and provenance of the packet's files; ``t`` must be the redacted transcript."""
    model = provenance.get("model", {})
    return {
        "packet": ref,
        "case_id": t.case_id,
        "exported_at": exported_at,
        "unreviewed_machine_translation": unreviewed,
        "original_recording": {"sha256": t.source.get("sha256"), "duration_s": t.source.get("duration_s"),
                               "recorded_on": t.interview.get("recorded_on")},
        "provenance": {
            "transcription": {"engine": model.get("engine", "openai-whisper"), "model": model.get("name"),
                              "model_sha256": model.get("sha256"), "processed_at": provenance.get("finished_at")},
            "translation": {"engine": t.translation.get("engine"), "packages": t.translation.get("packages", {}),
                            "machine_translated": True},
            "review": {"status": t.review.get("status"), "reviewers": t.review.get("reviewers", []),
                       "segments_checked": sum(1 for s in t.segments if s.reviewed),
                       "segments": len(t.segments)},
            "withheld": {"terms": t.review.get("withheld_term_count", 0),
                         "segments": [s.id for s in t.segments if s.withheld]},
            "software": {"testimony-pipeline": (provenance.get("software") or {}).get("testimony-pipeline")},
        },
        "files": {name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
                  for name, path in sorted(files.items())},
    }


def readme(t: Transcript, ref: str, names: list[str], unreviewed: bool) -> str:
    """What the journalist needs to know before quoting; ``t`` must be the redacted transcript."""
    checked = sum(1 for s in t.segments if s.reviewed)
    reviewers = ", ".join(t.review.get("reviewers") or []).rstrip(".") or "nobody"
    withheld = sum(1 for s in t.segments if s.withheld)
    if unreviewed:
        status = ("NOT REVIEWED. This is an UNREVIEWED MACHINE TRANSLATION: no person has checked the\n"
                  "transcript or the English. Do not quote it without an independent translation.")
    else:
        status = (f"Reviewed by {reviewers}. {checked} of {len(t.segments)} segments were checked, and\n"
                  f"  corrected where needed, by a person against the recording; the rest is machine output.")
    return f"""Testimony {ref} (case {t.case_id}): press packet
{'=' * (len(ref) + 32)}

Recorded: {t.interview.get('recorded_on') or 'date not recorded'}. Spoken languages: {language_names(t.languages)}.
Length: {clock(t.source.get('duration_s') or 0)}.

How this text was made
- The words spoken were transcribed by speech recognition (OpenAI Whisper) and the English is
  MACHINE TRANSLATION (Argos Translate), both run offline on the organisation's own computer.
- {status}
- Timestamps refer to the recording; quote against the video, not the English alone.

Protecting people
- Names or other identifying terms withheld: {t.review.get('withheld_term_count', 0)}, each replaced by
  "[name withheld]". Passages withheld: {withheld}, each replaced by "[segment withheld]". The sound of withheld passages is muted in the
  videos. The people concerned have relatives who are still detained: please do not try to
  restore or guess what was withheld, and blur or crop anything identifying you notice.

Checking the files
- manifest.json lists the SHA-256 of every file here and of the original recording, which the
  organisation keeps unchanged. `sha256sum FILE` must print the value listed for it.

Files
""" + "".join(f"- {name}\n" for name in names)


def write_zip(target: Path, members: dict[str, Path | bytes]) -> None:
    """Zip ``members`` (name -> file or bytes) at ``target``; video and DOCX are stored as they are."""
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, content in members.items():
            method = zipfile.ZIP_STORED if Path(name).suffix in ZIP_STORED_SUFFIXES else zipfile.ZIP_DEFLATED
            if isinstance(content, Path):
                zf.write(content, name, compress_type=method)
            else:
                zf.writestr(name, content, compress_type=method)
    tmp.replace(target)


def manifest_json(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
