"""Chain of custody: proof that originals, exports and the log itself are as recorded.

Testimony may be used in court or by the UN; the Berkeley Protocol asks for a hash at intake,
regular fixity checks and a chain of custody. ``verify`` re-hashes every original and every
exported file against the log and re-computes the log's hash chain; ``describe`` tells one
interview's history in plain language.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

from .hashing import sha256_file
from .store import GENESIS, Store, entry_hash


@dataclass
class Finding:
    ok: bool
    subject: str
    detail: str
    unchecked: bool = False  # an export replaced, or no longer here: not checked, not a failure


def check_chain(store: Store) -> list[Finding]:
    """Re-compute every entry's hash and its link to the one before; compare the head file."""
    findings = []
    prev, last_id = GENESIS, 0
    hashes: dict[int, str] = {}
    for row in store.db.execute("SELECT * FROM events ORDER BY id"):
        expected = entry_hash(
            prev, row["at"], row["sha256"], row["interview_id"], row["kind"], row["detail"]
        )
        if row["prev_hash"] != prev:
            findings.append(
                Finding(
                    False,
                    f"custody log entry {row['id']}",
                    "does not follow the entry before it: an entry was removed or reordered",
                )
            )
        elif row["hash"] != expected:
            findings.append(
                Finding(False, f"custody log entry {row['id']}", "was changed after it was written")
            )
        prev, last_id = row["hash"], row["id"]
        hashes[row["id"]] = row["hash"]
    head = store.head_file
    if last_id and head.exists():
        head_id, _, head_hash = head.read_text().strip().partition(" ")
        if not head_id.isdigit() or hashes.get(int(head_id)) != head_hash:
            findings.append(
                Finding(
                    False,
                    "custody log",
                    f"its newest entries do not match {head.name}: "
                    f"entries were removed from the end",
                )
            )
    elif last_id:
        findings.append(Finding(False, "custody log", f"{head.name} is missing"))
    if not findings:
        findings.append(Finding(True, "custody log", f"{last_id} entries, hash chain intact"))
    return findings


def _scope(store: Store, case: str | None) -> tuple[set[str], set[str]] | None:
    if case is None:
        return None
    jobs = [j for j in store.jobs() if j.case_id == case]
    return {j.sha256 for j in jobs}, {j.interview_id for j in jobs}


def check_originals(store: Store, case: str | None = None) -> list[Finding]:
    scope = _scope(store, case)
    findings = []
    for row in store.db.execute("SELECT * FROM originals ORDER BY received_at"):
        if scope is not None and row["sha256"] not in scope[0]:
            continue
        path = Path(row["evidence_path"])
        subject = f"original {row['original_name']} ({row['sha256'][:12]})"
        if not path.exists():
            findings.append(Finding(False, subject, f"is missing from the evidence store: {path}"))
        elif sha256_file(path) != row["sha256"]:
            findings.append(Finding(False, subject, f"has changed since intake: {path}"))
        elif path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            findings.append(
                Finding(
                    False, subject, f"is intact but writable; make it read-only: chmod a-w {path}"
                )
            )
        else:
            findings.append(Finding(True, subject, "intact"))
    return findings


def exported_files(row) -> dict[Path, str]:
    """Path -> SHA-256 of each file an export entry recorded."""
    detail = json.loads(row["detail"])
    base = Path(detail.get("out") or "/")
    return {
        (Path(name) if Path(name).is_absolute() else base / name): digest
        for name, digest in (detail.get("files") or {}).items()
    }


def _when(at: str) -> str:
    """A custody timestamp to the minute, as a person reads it."""
    return at[:16].replace("T", " ") + " UTC"


def check_exports(store: Store, case: str | None = None) -> list[Finding]:
    """Check the newest export to each path; older ones to the same path were replaced, not lost.

    An export that is no longer here was most likely carried away (that is what exports are
    for): it is reported, not failed. One that is here but changed fails.
    """
    scope = _scope(store, case)
    findings = []
    newest: dict[Path, tuple[str, str]] = {}  # path -> (SHA-256, when exported)
    for row in store.db.execute("SELECT * FROM events WHERE kind='export' ORDER BY id"):
        if scope is not None and row["interview_id"] not in scope[1]:
            continue
        day = _when(row["at"])
        for path, digest in exported_files(row).items():
            if path in newest:
                findings.append(
                    Finding(
                        True,
                        f"export {path}",
                        f"exported on {_when(newest[path][1])}, "
                        f"replaced on {day} by a newer export",
                        True,
                    )
                )
            newest[path] = (digest, row["at"])
        for gone in map(Path, json.loads(row["detail"]).get("removed") or []):
            if gone in newest:
                findings.append(
                    Finding(
                        True,
                        f"export {gone}",
                        f"exported on {_when(newest.pop(gone)[1])}, removed "
                        f"on {day} by a newer export to its folder",
                        True,
                    )
                )
    for path, (digest, at) in newest.items():
        subject = f"export {path}"
        if not path.exists():
            findings.append(
                Finding(
                    True,
                    subject,
                    f"not here (sent away?): exported on {_when(at)}, no longer "
                    f"on this machine, so not checked",
                    True,
                )
            )
        elif sha256_file(path) != digest:
            findings.append(
                Finding(False, subject, f"differs from what was exported on {_when(at)}")
            )
        else:
            findings.append(Finding(True, subject, "intact"))
    return findings


def verify(store: Store, case: str | None = None) -> list[Finding]:
    return check_chain(store) + check_originals(store, case) + check_exports(store, case)


# Plain language ---------------------------------------------------------------------------


def _sentence(kind: str, d: dict) -> str:
    if kind == "intake":
        return (
            f"received {Path(d.get('path', '?')).name} ({d.get('size', '?')} bytes) on {d.get('host', '?')}"
            f" by {d.get('user', '?')}; original stored read-only at {d.get('evidence')}"
            f"{'; case ' + d['case_id'] if d.get('case_id') else '; no case ID yet'}"
        )
    if kind == "duplicate":
        return f"the same recording was dropped again as {d.get('path')}; not processed twice"
    if kind == "linked":
        return f"linked to case {d.get('case_id')}"
    if kind == "processed":
        again = d.get("retranscription")
        kept = ""
        if again:
            before = again.get("previous") or {}
            kept = (
                f"; the transcript it replaces (model {before.get('model')}, SHA-256 "
                f"{before.get('model_sha256')}) is kept as version {again.get('version_kept')}"
            )
        return (
            f"transcribed {'again ' if again else ''}with {d.get('engine', 'openai-whisper')} "
            f"model {d.get('model', '?')} (SHA-256 {d.get('model_sha256')}), "
            f"translation {d.get('translation')}{kept}"
        )
    if kind == "retranscribe requested":
        return (
            f"{d.get('by', '?')} asked for it to be transcribed again"
            + (f" in {d['language']}" if d.get("language") else "")
            + (f" with model {d['model']}" if d.get("model") else "")
        )
    if kind == "piece":
        return (
            f"audio piece {d.get('piece')} transcribed on {d.get('host')} (worker {d.get('worker')}) with "
            f"{d.get('engine')} on {d.get('device')}, model SHA-256 {d.get('model_sha256')}"
        )
    if kind == "failed":
        return f"processing failed: {d.get('reason')}"
    if kind == "requeued":
        return f"a run stopped during {d.get('stage') or 'processing'}; queued again"
    if kind == "translated":
        return f"English added with {', '.join(f'{k}: {v}' for k, v in (d.get('packages') or {}).items())}"
    if kind == "edit":
        return (
            f"{d.get('reviewer') or d.get('who', '?')} edited segment {d.get('segment', '?')} "
            f"({d.get('field', 'text')})"
        )
    if kind == "review page":
        return f"{d.get('account', '?')} used {d.get('action', '?')} on the review page"
    if kind == "withhold":
        return "terms or segments marked withheld from exports"
    if kind == "export":
        return f"exported {len(d.get('files') or {})} files"
    return kind


def history(store: Store, interview_id: str) -> list[dict]:
    """Every custody entry of one interview (including those of its original by hash)."""
    job = next((j for j in store.find_jobs(interview_id)), None)
    if job is None:
        raise KeyError(interview_id)
    rows = store.db.execute(
        "SELECT * FROM events WHERE interview_id=? OR sha256=? ORDER BY id",
        (job.interview_id, job.sha256),
    ).fetchall()
    return [
        {
            "id": r["id"],
            "at": r["at"],
            "kind": r["kind"],
            "detail": json.loads(r["detail"]),
            "text": _sentence(r["kind"], json.loads(r["detail"])),
            "hash": r["hash"],
            "prev_hash": r["prev_hash"],
        }
        for r in rows
    ]
