"""Export and withhold: which interviews, whether they may leave, and where the files go.

An export is built in a staging folder and moved into place; files a previous export left
under the same name prefix are removed, so nothing made before a `withhold` stays beside the
new files. Every export and withhold is recorded in the event log by IDs, paths and hashes only.

Documents and subtitles are dated by the review's own time (the last custody entry that changed
the transcript), never by the clock, so exporting the same review twice gives the same bytes.
Videos carry Content Credentials and packets a signature, both by the organisation key.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .. import search
from .. import transcript as tr
from ..config import Settings
from ..hashing import sha256_file
from ..outbox import PROVENANCE_FILE, output_dir
from ..reviewed_lock import reviewed_lock
from ..store import Job, Store, now
from . import c2pa_manifest, faces, packet, pdf, protect, redact, signing, subtitles, video, word
from .documents import ExportError

log = logging.getLogger(__name__)

FORMATS = ("docx", "pdf", "srt", "vtt", "mp4", "burned", "packet")
DEFAULT_FORMATS = ("docx", "pdf", "srt", "vtt", "packet")
VIDEO_FORMATS = ("mp4", "burned")
SIGNED_FORMATS = ("mp4", "burned", "packet")
CHANGES = (
    "processed",
    "translated",
    "edit",
    "withhold",
)  # custody entries that change a transcript
SUFFIXES = {
    "docx": ".en.docx",
    "pdf": ".en.pdf",
    "srt": ".en.srt",
    "vtt": ".en.vtt",
    "mp4": ".en-subtitles.mp4",
    "burned": ".en-burned.mp4",
    "packet": ".press-packet.zip",
}


@dataclass
class Interview:
    job: Job
    folder: Path
    transcript: tr.Transcript

    @property
    def ref(self) -> str:
        """The name exports carry: case and hash, never the file name (it may hold a person's name)."""
        return f"{self.job.case_id}_{self.job.sha256[:8]}"

    @property
    def current_file(self) -> Path:
        reviewed = self.folder / tr.REVIEWED_FILE
        return reviewed if reviewed.exists() else self.folder / tr.MACHINE_FILE


@dataclass
class Result:
    folder: Path
    files: dict[str, Path]
    notices: list[str] = field(default_factory=list)


def parse_formats(text: str | None) -> list[str]:
    if not text:
        return list(DEFAULT_FORMATS)
    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    if "all" in wanted:
        return list(FORMATS)
    unknown = sorted(set(wanted) - set(FORMATS))
    if unknown:
        raise ExportError(
            f"unknown format {', '.join(unknown)}: choose from {', '.join(FORMATS)} or all"
        )
    if wanted == ["packet"]:
        wanted = list(DEFAULT_FORMATS)  # a packet of nothing helps nobody: bring the documents
    return [f for f in FORMATS if f in wanted]


def find(settings: Settings, store: Store, key: str) -> list[Interview]:
    """The processed interviews that ``key`` names: one interview ID, or every one of a case."""
    jobs = [j for j in store.jobs() if key in (j.interview_id, j.case_id) and j.case_id]
    found = []
    for job in jobs:
        folder = output_dir(settings, job)
        if (folder / tr.MACHINE_FILE).exists():
            found.append(Interview(job, folder, tr.load_current(folder)))
    if not found:
        waiting = f" ({len(jobs)} not processed yet: see `testimony status`)" if jobs else ""
        raise ExportError(f"no processed interview or case named {key!r}{waiting}")
    return found


def check(
    items: list[Interview],
    allow_unreviewed: bool,
    formats: list[str] | None = None,
    protections: list[str] | None = None,
    override: bool = False,
) -> None:
    """Refuse, before anything is written, an interview that should not leave the machine yet."""
    problems = []
    for item in items:
        if any(f in VIDEO_FORMATS for f in formats or []):
            refused = protect.refusal(item.job, protections or [], override)
            if refused:
                problems.append(refused)
        t = item.transcript
        status = t.review.get("status", "unreviewed")
        if status != "reviewed" and not allow_unreviewed:
            problems.append(
                f"{item.job.interview_id} is not reviewed (review status: {status}). Exports go to "
                f"journalists, so only a reviewed transcript is exported by default: finish its review "
                f'(the review page saves review status "reviewed" in {item.folder / tr.REVIEWED_FILE}), or pass '
                f'--allow-unreviewed to export it marked "unreviewed machine translation" on every '
                f"page and in the subtitles."
            )
        missing = [s.id for s in t.segments if s.english is None and not s.withheld]
        if missing:
            problems.append(
                f"{item.job.interview_id} has no English for segment(s) {', '.join(map(str, missing))}: "
                f"add a translation package (testimony models add FILE.argosmodel) and run "
                f"`testimony translate --pending`, or enter the English when reviewing."
            )
    if problems:
        raise ExportError("\n".join(problems))


def _guard(settings: Settings, folder: Path) -> Path:
    """Exports never go where the watcher takes recordings in, nor into the evidence store."""
    folder = folder.resolve()
    for root in [w.path for w in settings.watch] + [settings.evidence]:
        if folder.is_relative_to(root.resolve()):
            raise ExportError(
                f"{folder} is inside {root}, which the pipeline reads or keeps as evidence; "
                f"choose another --out folder"
            )
    return folder


def export(
    settings: Settings,
    store: Store,
    item: Interview,
    formats: list[str],
    out: Path | None = None,
    bilingual: bool = False,
    progress: video.Progress | None = None,
    protections: list[str] | None = None,
    override_by: str | None = None,
) -> Result:
    """Write the chosen formats for one interview (already passed by :func:`check`).

    ``protections`` (names, voice, faces) apply to the videos; ``override_by`` names the admin
    who lets an interview its sidecar marks protected out without them.
    """
    protections = list(protections or [])
    if any(f in VIDEO_FORMATS for f in formats):
        refused = protect.refusal(item.job, protections, override_by is not None)
        if refused:
            raise ExportError(refused)
    folder = _guard(settings, out or item.folder / "export")
    key = None
    if any(f in formats for f in SIGNED_FORMATS):
        try:
            key = signing.load(settings.home)
        except signing.SigningError as exc:
            raise ExportError(str(exc)) from exc
    when = as_of(store, item)
    t = redact.redacted(item.transcript)
    unreviewed = t.review["status"] != "reviewed"
    duration = t.source.get("duration_s") or max([s.end for s in t.segments] + [0.0])
    cues = subtitles.cues(t.segments, duration, unreviewed)
    result = Result(folder, {})
    source = Path(item.job.evidence_path)
    if any(f in formats for f in VIDEO_FORMATS):
        formats = _video_check(item, source, formats, result.notices, protections)
    videos = any(f in formats for f in VIDEO_FORMATS)
    applied = protect.Applied(protections if videos else [], override_by=override_by)
    if protections and not videos:
        result.notices.append(
            f"{item.job.interview_id}: --protect {','.join(protections)} "
            f"applies to video, and no video is exported"
        )

    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        made: dict[str, Path] = {}
        render = {
            "docx": lambda: word.render(t, item.ref, bilingual, unreviewed, when),
            "pdf": lambda: pdf.render(t, item.ref, bilingual, unreviewed, when),
            "srt": lambda: subtitles.srt(cues),
            "vtt": lambda: subtitles.vtt(cues),
        }
        spans = redact.muted_spans(item.transcript, duration)
        picture = sound = None
        if videos:
            spans, picture, sound = _protected_media(
                item, source, staging, spans, duration, applied, result.notices, progress
            )
        provenance = _provenance(item)
        for fmt in formats:
            path = staging / (item.ref + SUFFIXES[fmt])
            if fmt in render:
                tr.write_atomic(path, render[fmt]())
            elif fmt in VIDEO_FORMATS:
                plain = staging / f"plain-{fmt}.mp4"
                make = video.soft_subtitled if fmt == "mp4" else video.burned_in
                make(source, subtitles.srt(cues), plain, spans, duration, progress, picture, sound)
                facts = _video_facts(item, t, fmt, len(spans), provenance, applied)
                c2pa_manifest.embed(key, plain, path, facts)
                plain.unlink()
            elif fmt == "packet":
                _packet(store, key, item, t, made, path, unreviewed, when, provenance, applied)
            made[path.name] = path
        removed = _replace(staging, folder, item.ref, made)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.files = {name: folder / name for name in made}
    hashes = {str(path): sha256_file(path) for path in result.files.values()}
    store.event(
        "export",
        sha256=item.job.sha256,
        interview_id=item.job.interview_id,
        files=hashes,
        formats=formats,
        unreviewed=unreviewed,
        bilingual=bilingual,
        transcript={"file": str(item.current_file), "sha256": sha256_file(item.current_file)},
        withheld_terms=t.review["withheld_term_count"],
        withheld_segments=[s.id for s in t.segments if s.withheld],
        removed=removed,
        protections=applied.protections,
        protections_overridden_by=override_by,
    )
    log.info("exported %s (%s) -> %s", item.job.interview_id, ",".join(formats), folder)
    return result


def _protected_media(
    item: Interview,
    source: Path,
    staging: Path,
    spans: list[tuple[float, float]],
    duration: float,
    applied: protect.Applied,
    notices: list[str],
    progress: video.Progress | None,
) -> tuple[list, Path | None, Path | None]:
    """The spans to mute, and the blurred picture and disguised sound, as ``applied`` asks."""
    if "names" in applied.protections:
        names, applied.whole_segments = redact.name_spans(item.transcript, duration)
        spans = redact.merge(spans + names, duration)
        if applied.whole_segments:
            notices.append(
                f"{item.job.interview_id}: segment(s) "
                f"{', '.join(map(str, applied.whole_segments))} say a withheld name but "
                f"have no word times: each is muted whole in the videos"
            )
    sound = None
    if "voice" in applied.protections and "audio" in dict(video.streams(source)):
        sound = protect.protected_sound(source, staging, spans)
    picture = None
    if "faces" in applied.protections:
        picture = staging / "faces.mp4"
        found = faces.blur_faces(source, picture, progress, duration)
        log.info(
            "faces %s: %d of %d frames covered",
            item.job.interview_id,
            found.frames_with_faces,
            found.frames,
        )
    return spans, picture, sound


def _video_check(
    item: Interview, source: Path, formats: list[str], notices: list[str], protections: list[str]
) -> list[str]:
    """Drop the video formats for a recording with no picture; warn of names still audible."""
    if not source.is_file():
        raise ExportError(
            f"the original recording {source} is missing from the evidence store; "
            f"video cannot be exported (restore it from backup)"
        )
    if "video" not in dict(video.streams(source)):
        notices.append(f"{item.job.interview_id}: the recording has no picture; no video exported")
        return [f for f in formats if f not in VIDEO_FORMATS]
    audible = [] if "names" in protections else redact.mentions(item.transcript)
    if audible:
        ids = " ".join(f"--segment {i}" for i in audible)
        notices.append(
            f"{item.job.interview_id}: segment(s) {', '.join(map(str, audible))} contain a withheld term "
            f"that is hidden in the text but still audible in the video; to mute them: "
            f"testimony withhold {item.job.interview_id} {ids}, or export with --protect names"
        )
    return formats


def as_of(store: Store, item: Interview) -> datetime:
    """When the transcript last changed, by the custody log (the clock only if it says nothing)."""
    kinds = ",".join("?" * len(CHANGES))
    row = store.db.execute(
        f"SELECT MAX(at) FROM events WHERE interview_id=? AND kind IN ({kinds})",
        (item.job.interview_id, *CHANGES),
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else datetime.now(timezone.utc)


def _provenance(item: Interview) -> dict:
    path = item.folder / PROVENANCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _video_facts(
    item: Interview,
    t: tr.Transcript,
    fmt: str,
    muted: int,
    provenance: dict,
    applied: protect.Applied,
) -> dict:
    """What the video's Content Credentials assert; ``t`` is the redacted transcript."""
    model = provenance.get("model", {})
    return {
        "source_sha256": item.job.sha256,
        "case_id": t.case_id,
        "packet": item.ref,
        "subtitles": "added as a switchable English track"
        if fmt == "mp4"
        else "burned into the picture",
        "muted_spans": muted,
        "withheld_segments": sum(1 for s in t.segments if s.withheld),
        "withheld_terms": t.review.get("withheld_term_count", 0),
        "review_status": t.review.get("status", "unreviewed"),
        "model": {
            "engine": model.get("engine", "openai-whisper"),
            "name": model.get("name"),
            "sha256": model.get("sha256"),
        },
        "translation": {"engine": t.translation.get("engine"), "machine_translated": True},
        "software": (provenance.get("software") or {}).get("testimony-pipeline"),
        "protections": applied.protections,
    }


def _packet(
    store: Store,
    key: signing.OrgKey,
    item: Interview,
    t: tr.Transcript,
    made: dict[str, Path],
    target: Path,
    unreviewed: bool,
    when: datetime,
    provenance: dict,
    applied: protect.Applied,
) -> None:
    """The zip: files in a fixed order, README, C2PA root, manifest and its signature."""
    extra: dict[str, Path] = {}
    if any(name.endswith(".mp4") for name in made):
        extra[packet.C2PA_ROOT] = target.with_name(packet.C2PA_ROOT)
        tr.write_atomic(extra[packet.C2PA_ROOT], c2pa_manifest.root_pem(key))
    names = sorted(made) + ["README.txt", *extra, "manifest.json", packet.SIGNATURE]
    extra["README.txt"] = target.with_name("README.txt")
    text = packet.readme(t, item.ref, names, unreviewed, key.public_line, applied.protections)
    tr.write_atomic(extra["README.txt"], text)
    head = store.db.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
    signer = {
        "org": key.org,
        "public_key": key.public_line,
        "fingerprint": key.fingerprint,
        "namespace": signing.NAMESPACE,
    }
    files = {**made, **extra}
    manifest = packet.manifest(
        t,
        item.ref,
        files,
        provenance,
        now(),
        unreviewed,
        when.isoformat(),
        {"entry": head["id"], "sha256": head["hash"]} if head else {},
        signer,
        applied.protections,
    )
    body = packet.manifest_json(manifest).encode("utf-8")
    members = {name: files[name] for name in names[:-2]}
    packet.write_zip(
        target,
        {**members, "manifest.json": body, packet.SIGNATURE: signing.sign(key, body).encode()},
        when,
    )
    for path in extra.values():
        path.unlink()


def _replace(staging: Path, folder: Path, ref: str, made: dict[str, Path]) -> list[str]:
    """Move the new files in; remove this interview's older export files that were not remade."""
    for name, path in made.items():
        path.replace(folder / name)
        made[name] = folder / name
    stale = [p for p in folder.glob(f"{ref}.*") if p.name not in made and p.is_file()]
    for path in stale:
        path.unlink()
    return [str(p) for p in stale]


def withhold(
    settings: Settings, store: Store, key: str, terms: list[str], segment_ids: list[int]
) -> list[str]:
    """Add withheld terms and segments to each interview's reviewed.json; return one line per interview."""
    items = find(settings, store, key)
    if segment_ids and len(items) > 1:
        raise ExportError(f"{key} names {len(items)} interviews; --segment needs one interview ID")
    lines = []
    for item in items:
        with reviewed_lock(item.folder):
            lines.append(_withhold_one(store, item, terms, segment_ids))
            search.update(settings.database, item.folder)
    return lines


def _withhold_one(store: Store, item: Interview, terms: list[str], segment_ids: list[int]) -> str:
    """Under the reviewed.json lock: read it afresh, add, write."""
    t = tr.load_current(item.folder)
    known = {s.id for s in t.segments}
    unknown = sorted(set(segment_ids) - known)
    if unknown:
        raise ExportError(
            f"{item.job.interview_id} has no segment {', '.join(map(str, unknown))} "
            f"(segments are {min(known, default=0)}..{max(known, default=0)})"
        )
    listed = t.review.setdefault("withheld_terms", [])
    seen = {w.strip().casefold() for w in listed}
    added = []
    for term in (w.strip() for w in terms):
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            added.append(term)
    listed.extend(added)
    for seg in t.segments:
        if seg.id in segment_ids:
            seg.withheld = True
    path = item.folder / tr.REVIEWED_FILE
    tr.write_atomic(path, t.to_json())
    # Counts and segment IDs only: the terms themselves are what must not spread.
    store.event(
        "withhold",
        sha256=item.job.sha256,
        interview_id=item.job.interview_id,
        terms_added=len(added),
        terms_total=len(listed),
        segments=sorted(set(segment_ids)),
        reviewed={"file": str(path), "sha256": sha256_file(path)},
    )
    log.info(
        "withhold %s: %d terms added, segments %s",
        item.job.interview_id,
        len(added),
        sorted(set(segment_ids)),
    )
    removed = tr.remove_machine_subtitles(item.folder)
    return (
        f"{item.job.interview_id}: {len(added)} term(s) added ({len(listed)} withheld in all)"
        + (
            f", segment(s) {', '.join(map(str, sorted(set(segment_ids))))} withheld"
            if segment_ids
            else ""
        )
        + f"; saved in {path}"
        + (
            f"; the outbox's machine subtitles ({len(removed)} file(s)) removed: `testimony export "
            f"{item.job.interview_id} --format srt,vtt` makes redacted ones"
            if removed
            else ""
        )
    )
