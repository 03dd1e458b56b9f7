"""The review tables: every saved version of each segment, the audit log, review.txt's hash.

A segment's versions are numbered (its revisions); a save names the revision it started from
(:meth:`.edits.Reviews.check_revision`). Written inside the transaction of
:meth:`.edits.Reviews.change`, so the audit log never names an edit that was not saved.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

from .. import transcript as tr
from ..store import now
from .changes import HAND_WRITTEN, MACHINE_TRANSLATION, Change

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_versions (
    interview_id TEXT NOT NULL,
    segment_id INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    at TEXT NOT NULL,
    reviewer TEXT,
    data TEXT,                      -- the segment as saved (JSON); NULL once merged away
    english_by_hand INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (interview_id, segment_id, revision)
);
CREATE TABLE IF NOT EXISTS review_audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    interview_id TEXT NOT NULL,
    segment_id INTEGER,             -- NULL for the interview's own status
    reviewer TEXT NOT NULL,
    action TEXT NOT NULL,
    field TEXT NOT NULL,
    before TEXT,                    -- JSON
    after TEXT                      -- JSON
);
CREATE INDEX IF NOT EXISTS review_audit_segment ON review_audit (interview_id, segment_id);
CREATE TABLE IF NOT EXISTS review_files (
    interview_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL            -- review.txt as last written by this tool
);
"""


def latest(db: sqlite3.Connection, interview_id: str, segment_id: int):
    """The newest saved version of a segment (a row), or None."""
    return db.execute(
        "SELECT * FROM review_versions WHERE interview_id=? AND segment_id=?"
        " ORDER BY revision DESC LIMIT 1",
        (interview_id, segment_id),
    ).fetchone()


def record(
    db: sqlite3.Connection,
    iid: str,
    reviewer: str,
    t: tr.Transcript,
    changes: list[Change],
    touched: set[int],
) -> None:
    """A new version of each touched segment and an audit entry per change; the interview
    moves to in_progress at its first edit, and the reviewer joins its reviewers."""
    stamp = now()
    if any(c.field != "status" for c in changes):
        if t.review.get("status", "unreviewed") == "unreviewed":
            changes.append(Change(None, "status", "unreviewed", "in_progress", "status"))
            t.review["status"] = "in_progress"
    reviewers = t.review.setdefault("reviewers", [])
    if reviewer not in reviewers:
        reviewers.append(reviewer)
    segments = {s.id: s for s in t.segments}
    for seg_id in touched:
        row = latest(db, iid, seg_id)
        by_hand = bool(row["english_by_hand"]) if row else False
        for c in changes:  # split and merge keep whoever wrote the English
            if c.segment_id == seg_id and c.field == "english" and c.action in HAND_WRITTEN:
                by_hand = True
            elif (
                c.segment_id == seg_id and c.field == "english" and c.action == MACHINE_TRANSLATION
            ):
                by_hand = False
        seg = segments.get(seg_id)
        db.execute(
            "INSERT INTO review_versions VALUES (?,?,?,?,?,?,?)",
            (
                iid,
                seg_id,
                (row["revision"] + 1) if row else 0,
                stamp,
                reviewer,
                json.dumps(asdict(seg)) if seg else None,
                int(by_hand),
            ),
        )
    for c in changes:
        db.execute(
            "INSERT INTO review_audit"
            " (at, interview_id, segment_id, reviewer, action, field, before, after)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (
                stamp,
                iid,
                c.segment_id,
                reviewer,
                c.action,
                c.field,
                json.dumps(c.before, ensure_ascii=False),
                json.dumps(c.after, ensure_ascii=False),
            ),
        )


def audit(db: sqlite3.Connection, interview_id: str, segment_id: int | None = None) -> list[dict]:
    """The audit entries of one segment (or of all the interview), oldest first."""
    if segment_id is None:
        rows = db.execute(
            "SELECT * FROM review_audit WHERE interview_id=? ORDER BY id", (interview_id,)
        )
    else:
        rows = db.execute(
            "SELECT * FROM review_audit WHERE interview_id=? AND segment_id=? ORDER BY id",
            (interview_id, segment_id),
        )
    return [
        {**dict(r), "before": json.loads(r["before"]), "after": json.loads(r["after"])}
        for r in rows
    ]
