"""Human edits to a transcript: reviewed.json, per-segment revisions and the audit log.

The pipeline only ever writes transcript.json and human edits only ever go to reviewed.json
(started as a copy of the machine's), so re-running the pipeline cannot lose an edit. Every
segment has a revision number, and every saved version of it is kept in SQLite: a save names
the revision it started from, and a save from a stale revision is refused with the other
version (``Conflict``) instead of overwriting it. Every change is appended to the audit log
(who, when, segment, field, before, after) and to the chain-of-custody events.

All writes for one home folder are serialised by a SQLite write transaction, so the review
page's threads, ``testimony review import`` and the watcher can run side by side.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .. import search, versions
from .. import transcript as tr
from ..config import Settings
from ..outbox import output_dir
from ..reviewed_lock import reviewed_lock
from ..store import Job, Store, now
from . import history, reshape
from .changes import (
    MACHINE_TRANSLATION,
    STATUSES,
    Change,
    Conflict,
    Edit,
    NeedsConfirmation,
    NotFound,
    ReviewError,
    validate_changes,
)
from .interview import Interview
from .reviewfile import write_review_file

log = logging.getLogger(__name__)


class Reviews:
    """Reading and changing the reviewed version of interviews under one home folder."""

    def __init__(self, settings: Settings, translator=None):
        self.settings = settings
        self.store = Store(settings.database)
        self.db = self.store.db
        self.db.executescript(history.SCHEMA)
        self._translator = translator

    def close(self) -> None:
        self.store.close()

    # Interviews ---------------------------------------------------------------------
    def _interview(self, job: Job) -> Interview:
        return Interview(
            job.interview_id,
            job.case_id,
            job.sha256,
            output_dir(self.settings, job),
            Path(job.evidence_path),
        )

    def interviews(self) -> list[Interview]:
        jobs = [j for j in self.store.jobs() if j.case_id]
        found = [self._interview(j) for j in jobs]
        return sorted(
            (i for i in found if (i.out_dir / tr.MACHINE_FILE).exists()),
            key=lambda i: (i.case_id, i.interview_id),
        )

    def find(self, interview_id: str) -> Interview:
        row = self.db.execute(
            "SELECT id FROM jobs WHERE interview_id=?", (interview_id,)
        ).fetchone()
        job = self.store.job(row["id"]) if row else None
        if (
            job is None
            or not job.case_id
            or not (output_dir(self.settings, job) / tr.MACHINE_FILE).exists()
        ):
            raise NotFound(
                f"no transcript for interview {interview_id!r}; `testimony status` lists them"
            )
        return self._interview(job)

    def progress(self, interview: Interview) -> dict:
        t = tr.load_current(interview.out_dir)
        return {
            "interview_id": interview.interview_id,
            "case_id": interview.case_id,
            "status": t.review.get("status", "unreviewed"),
            "reviewers": t.review.get("reviewers", []),
            "segments": len(t.segments),
            "reviewed_segments": sum(s.reviewed for s in t.segments),
            "flagged": sum(bool(s.flags) and not s.reviewed for s in t.segments),
            "started": (interview.out_dir / tr.REVIEWED_FILE).exists(),
            "transcribed_with": versions.made_by(interview.out_dir).label,
            "version": versions.current_number(interview.out_dir),
        }

    def open(self, interview: Interview) -> tr.Transcript:
        """The reviewed version, started as a copy of the machine's the first time."""
        reviewed = interview.out_dir / tr.REVIEWED_FILE
        if not reviewed.exists():
            with reviewed_lock(interview.out_dir):  # withhold may be starting it too
                self._start(interview, reviewed)
        t = tr.load(reviewed)
        self._first_versions(interview, t)
        return t

    def _start(self, interview: Interview, reviewed: Path) -> None:
        if not reviewed.exists():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if not reviewed.exists():
                    # A copy, not a re-render: reviewed.json starts as exactly what the machine wrote.
                    tr.load(interview.out_dir / tr.MACHINE_FILE)
                    tmp = reviewed.with_name(f".{reviewed.name}.copy")
                    shutil.copyfile(interview.out_dir / tr.MACHINE_FILE, tmp)
                    tmp.replace(reviewed)
                    log.info("review started for %s: %s", interview.interview_id, reviewed)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _first_versions(self, interview: Interview, t: tr.Transcript) -> None:
        """Give segments with no saved version yet their revision 0 (the copy as it is)."""
        known = {
            r[0]
            for r in self.db.execute(
                "SELECT DISTINCT segment_id FROM review_versions WHERE interview_id=?",
                (interview.interview_id,),
            )
        }
        for seg in t.segments:
            if seg.id not in known:
                self.db.execute(
                    "INSERT OR IGNORE INTO review_versions (interview_id, segment_id, revision, at, data)"
                    " VALUES (?,?,0,?,?)",
                    (interview.interview_id, seg.id, now(), json.dumps(asdict(seg))),
                )

    # Versions -----------------------------------------------------------------------
    def latest(self, interview_id: str, segment_id: int):
        return history.latest(self.db, interview_id, segment_id)

    def version(self, interview_id: str, segment_id: int, revision: int) -> dict | None:
        """A segment as it was at a revision, or None if it never had that revision."""
        row = self.db.execute(
            "SELECT data FROM review_versions WHERE interview_id=? AND segment_id=? AND revision=?",
            (interview_id, segment_id, revision),
        ).fetchone()
        return json.loads(row["data"]) if row and row["data"] else None

    def revisions(self, interview_id: str) -> dict[int, dict]:
        """Segment ID -> {"revision", "english_by_hand"} for the current version of each segment."""
        rows = self.db.execute(
            "SELECT segment_id, MAX(revision) AS revision, english_by_hand FROM review_versions"
            " WHERE interview_id=? GROUP BY segment_id",
            (interview_id,),
        ).fetchall()
        return {
            r["segment_id"]: {
                "revision": r["revision"],
                "english_by_hand": bool(r["english_by_hand"]),
            }
            for r in rows
        }

    def check_revision(self, interview_id: str, segment_id: int, revision: int) -> None:
        row = self.latest(interview_id, segment_id)
        if row is None:
            raise NotFound(f"interview {interview_id} has no segment {segment_id}")
        if row["revision"] != revision:
            current = json.loads(row["data"]) if row["data"] else None
            raise Conflict(segment_id, row["revision"], current, row["reviewer"], row["at"])

    # Changing -----------------------------------------------------------------------
    def change(
        self,
        interview: Interview,
        reviewer: str,
        apply: Callable[[tr.Transcript], tuple[list[Change], set[int]]],
    ) -> tr.Transcript:
        """Run ``apply`` on the reviewed transcript in one write transaction and record what it did.

        ``apply`` checks revisions, changes the transcript in place and returns the changes and
        the IDs of the segments it touched (each gets a new revision). reviewed.json is written
        before the transaction commits, so the audit log never names an edit that was not saved.
        """
        reviewer = (reviewer or "").strip()
        if not reviewer:
            raise ReviewError("say who you are: a reviewer name is needed for the audit log")
        self.open(interview)
        path = interview.out_dir / tr.REVIEWED_FILE
        with reviewed_lock(interview.out_dir):  # withhold and translate write reviewed.json too
            self.db.execute("BEGIN IMMEDIATE")
            try:
                t = tr.load(path)
                self._first_versions(interview, t)
                changes, touched = apply(t)
                for seg in (
                    t.segments
                ):  # words that no longer spell an edited text are dropped, never left wrong
                    if seg.id in touched:
                        tr.fit_words(seg)
                if changes:
                    history.record(self.db, interview.interview_id, reviewer, t, changes, touched)
                    t.segments.sort(key=lambda s: (s.start, s.id))
                    tr.write_atomic(path, t.to_json())
                    search.index_transcript(
                        self.db, t, path
                    )  # same transaction: found at once, or not saved
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        for c in changes:
            self.store.event(
                "edit",
                sha256=interview.sha256,
                interview_id=interview.interview_id,
                reviewer=reviewer,
                segment=c.segment_id,
                field=c.field,
                action=c.action,
            )
        if changes:
            log.info(
                "%s: %d change(s) by a reviewer to segment(s) %s",
                interview.interview_id,
                len(changes),
                sorted(s for s in {c.segment_id for c in changes} if s is not None),
            )
            write_review_file(self, interview)  # keeps an untouched review.txt current
        return t

    def apply_edits(
        self,
        interview: Interview,
        reviewer: str,
        edits: list[Edit],
        action: str = "edit",
        renames: dict[str, str] | None = None,
    ) -> tr.Transcript:
        """Field edits to several segments, all or nothing; the first stale one refuses them all.
        ``renames`` ({old: new} speaker names, all at once) are made in the same transaction."""
        checked = [Edit(e.segment_id, e.revision, validate_changes(e.changes)) for e in edits]

        def apply(t: tr.Transcript):
            segments = {s.id: s for s in t.segments}
            changes, touched = [], set()
            for e in checked:
                self.check_revision(interview.interview_id, e.segment_id, e.revision)
                seg = segments[e.segment_id]
                for name, value in e.changes.items():
                    if getattr(seg, name) != value:
                        changes.append(Change(seg.id, name, getattr(seg, name), value, action))
                        setattr(seg, name, value)
                        touched.add(seg.id)
                if seg.english and tr.MISSING_TRANSLATION_FLAG in seg.flags:
                    seg.flags.remove(tr.MISSING_TRANSLATION_FLAG)
            if renames:
                renamed, hit = reshape.rename_speakers(t, renames)
                changes, touched = changes + renamed, touched | hit
            return changes, touched

        return self.change(interview, reviewer, apply)

    def save(
        self, interview: Interview, reviewer: str, segment_id: int, revision: int, changes: dict
    ) -> tr.Transcript:
        return self.apply_edits(interview, reviewer, [Edit(segment_id, revision, changes)])

    def split(
        self,
        interview: Interview,
        reviewer: str,
        segment_id: int,
        revision: int,
        at: float,
        offset: int,
    ) -> tr.Transcript:
        """Split a segment at a time, its source text at ``offset``, its English in proportion."""

        def apply(t: tr.Transcript):
            self.check_revision(interview.interview_id, segment_id, revision)
            new_id = 1 + max(
                [s.id for s in t.segments]
                + [
                    r[0]
                    for r in self.db.execute(
                        "SELECT MAX(segment_id) FROM review_versions WHERE interview_id=?",
                        (interview.interview_id,),
                    )
                    if r[0] is not None
                ]
            )
            return reshape.split_segment(t, segment_id, at, offset, new_id)

        return self.change(interview, reviewer, apply)

    def merge(
        self,
        interview: Interview,
        reviewer: str,
        segment_id: int,
        revision: int,
        next_revision: int,
    ) -> tr.Transcript:
        """Merge a segment with the one after it; the later one's ID is retired, not reused."""

        def apply(t: tr.Transcript):
            seg, nxt = reshape.pair(t, segment_id)
            self.check_revision(interview.interview_id, seg.id, revision)
            self.check_revision(interview.interview_id, nxt.id, next_revision)
            return reshape.merge_segments(t, seg, nxt)

        return self.change(interview, reviewer, apply)

    def retranslate(
        self,
        interview: Interview,
        reviewer: str,
        segment_id: int,
        revision: int,
        replace: bool = False,
    ) -> tr.Transcript:
        """Machine English for the segment's (edited) source; hand-written English only if ``replace``."""
        from ..translate import TranslationError, Translator

        self.check_revision(interview.interview_id, segment_id, revision)
        seg = next(
            s for s in tr.load(interview.out_dir / tr.REVIEWED_FILE).segments if s.id == segment_id
        )
        if self._translator is None:
            self._translator = Translator(self.settings)
        try:
            english = self._translator.translate(seg.text, seg.language)
        except TranslationError as exc:
            raise ReviewError(str(exc)) from None
        if (
            self.revisions(interview.interview_id)[segment_id]["english_by_hand"]
            and seg.english
            and not replace
        ):
            raise NeedsConfirmation(english)
        return self.apply_edits(
            interview,
            reviewer,
            [Edit(segment_id, revision, {"english": english})],
            action=MACHINE_TRANSLATION,
        )

    def set_status(self, interview: Interview, reviewer: str, status: str) -> tr.Transcript:
        if status not in STATUSES:
            raise ReviewError(f"status {status!r} is not one of {', '.join(STATUSES)}")

        def apply(t: tr.Transcript):
            before = t.review.get("status", "unreviewed")
            t.review["status"] = status
            return (
                [Change(None, "status", before, status, "status")] if before != status else []
            ), set()

        return self.change(interview, reviewer, apply)

    def rename_speaker(
        self, interview: Interview, reviewer: str, old: str, new: str
    ) -> tr.Transcript:
        """Name a speaker once for the whole interview ("S1" -> "Interviewer"): one audit entry,
        and every segment with that label gets a new revision. A name already in use merges them."""
        old, new = (old or "").strip(), (new or "").strip()
        if not new or new == old:
            raise ReviewError("give the speaker a new name, e.g. Interviewer")

        def apply(t: tr.Transcript):
            return reshape.rename_speaker(t, old, new)

        return self.change(interview, reviewer, apply)

    def merge_speakers(
        self, interview: Interview, reviewer: str, source: str, target: str
    ) -> tr.Transcript:
        """Merge one speaker label into another ("S3" into "S1") where the voice step split one
        voice in two: one audit entry, and every segment of ``source`` gets a new revision."""
        source, target = (source or "").strip(), (target or "").strip()
        if not source or not target or source == target:
            raise ReviewError("name two different speakers: the one to merge and the one to keep")

        def apply(t: tr.Transcript):
            return reshape.merge_speakers(t, source, target)

        return self.change(interview, reviewer, apply)

    # Audit --------------------------------------------------------------------------
    def audit(self, interview_id: str, segment_id: int | None = None) -> list[dict]:
        """The audit entries of one segment (or of all the interview), oldest first."""
        return history.audit(self.db, interview_id, segment_id)
