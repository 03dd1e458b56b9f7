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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .. import search, versions
from .. import transcript as tr
from ..config import LANGUAGES, Settings
from ..outbox import output_dir
from ..reviewed_lock import reviewed_lock
from ..store import Job, Store, now
from .interview import Interview
from .reviewfile import write_review_file

log = logging.getLogger(__name__)

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

EDITABLE = ("text", "english", "language", "speaker", "reviewed")
STATUSES = ("unreviewed", "in_progress", "reviewed")
MACHINE_TRANSLATION = "machine translation"
MERGE_SPEAKERS = "merge speakers"  # the audit action of merging one speaker label into another
HAND_WRITTEN = ("edit", "review.txt")  # audit actions in which a person typed the value


class ReviewError(ValueError):
    """A request that cannot be carried out; the message says what to do instead."""


class NotFound(ReviewError):
    pass


class Conflict(ReviewError):
    """A save based on a stale revision: someone else saved the segment in the meantime."""

    def __init__(self, segment_id: int, revision: int, current: dict | None, by: str | None, at: str):
        self.segment_id, self.revision, self.current, self.by, self.at = segment_id, revision, current, by, at
        gone = " (merged into another segment)" if current is None else ""
        super().__init__(f"segment {segment_id} was saved by {by or 'the pipeline'} at {at} (revision {revision})"
                         f"{gone} after you started editing it; look at their version before saving yours")


class NeedsConfirmation(ReviewError):
    """Re-translating would replace English a person wrote; the caller must ask first."""

    def __init__(self, proposed: str):
        self.proposed = proposed
        super().__init__("this segment's English was written by hand; confirm to replace it")


@dataclass
class Change:
    """One audited change: a field of a segment (or of the interview), before and after."""

    segment_id: int | None
    field: str
    before: object
    after: object
    action: str = "edit"


@dataclass
class Edit:
    """What a reviewer asks for on one segment, based on the revision they saw."""

    segment_id: int
    revision: int
    changes: dict = field(default_factory=dict)


def _segment_dict(seg: tr.Segment | None) -> dict | None:
    return asdict(seg) if seg is not None else None


def validate_changes(changes: dict) -> dict:
    """Checked and normalised field values; raises ReviewError naming the bad field."""
    clean = {}
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ReviewError(f"{name!r} cannot be edited; editable fields: {', '.join(EDITABLE)}")
        if name == "language":
            if value not in LANGUAGES:
                raise ReviewError(f"language {value!r} is not one of {', '.join(LANGUAGES)}")
        elif name == "reviewed":
            if not isinstance(value, bool):
                raise ReviewError("reviewed must be true or false")
        elif value is not None and not isinstance(value, str):
            raise ReviewError(f"{name} must be text")
        elif name == "text":
            value = (value or "").strip()
        elif name in ("english", "speaker"):
            value = (value or "").strip() or None
        clean[name] = value
    return clean


class Reviews:
    """Reading and changing the reviewed version of interviews under one home folder."""

    def __init__(self, settings: Settings, translator=None):
        self.settings = settings
        self.store = Store(settings.database)
        self.db = self.store.db
        self.db.executescript(SCHEMA)
        self._translator = translator

    def close(self) -> None:
        self.store.close()

    # Interviews ---------------------------------------------------------------------
    def _interview(self, job: Job) -> Interview:
        return Interview(job.interview_id, job.case_id, job.sha256, output_dir(self.settings, job),
                         Path(job.evidence_path))

    def interviews(self) -> list[Interview]:
        jobs = [j for j in self.store.jobs() if j.case_id]
        found = [self._interview(j) for j in jobs]
        return sorted((i for i in found if (i.out_dir / tr.MACHINE_FILE).exists()),
                      key=lambda i: (i.case_id, i.interview_id))

    def find(self, interview_id: str) -> Interview:
        row = self.db.execute("SELECT id FROM jobs WHERE interview_id=?", (interview_id,)).fetchone()
        job = self.store.job(row["id"]) if row else None
        if job is None or not job.case_id or not (output_dir(self.settings, job) / tr.MACHINE_FILE).exists():
            raise NotFound(f"no transcript for interview {interview_id!r}; `testimony status` lists them")
        return self._interview(job)

    def progress(self, interview: Interview) -> dict:
        t = tr.load_current(interview.out_dir)
        return {"interview_id": interview.interview_id, "case_id": interview.case_id,
                "status": t.review.get("status", "unreviewed"), "reviewers": t.review.get("reviewers", []),
                "segments": len(t.segments), "reviewed_segments": sum(s.reviewed for s in t.segments),
                "flagged": sum(bool(s.flags) and not s.reviewed for s in t.segments),
                "started": (interview.out_dir / tr.REVIEWED_FILE).exists(),
                "transcribed_with": versions.made_by(interview.out_dir).label,
                "version": versions.current_number(interview.out_dir)}

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
        known = {r[0] for r in self.db.execute(
            "SELECT DISTINCT segment_id FROM review_versions WHERE interview_id=?", (interview.interview_id,))}
        for seg in t.segments:
            if seg.id not in known:
                self.db.execute(
                    "INSERT OR IGNORE INTO review_versions (interview_id, segment_id, revision, at, data)"
                    " VALUES (?,?,0,?,?)", (interview.interview_id, seg.id, now(), json.dumps(asdict(seg))))

    # Versions -----------------------------------------------------------------------
    def latest(self, interview_id: str, segment_id: int):
        return self.db.execute(
            "SELECT * FROM review_versions WHERE interview_id=? AND segment_id=? ORDER BY revision DESC LIMIT 1",
            (interview_id, segment_id)).fetchone()

    def version(self, interview_id: str, segment_id: int, revision: int) -> dict | None:
        """A segment as it was at a revision, or None if it never had that revision."""
        row = self.db.execute(
            "SELECT data FROM review_versions WHERE interview_id=? AND segment_id=? AND revision=?",
            (interview_id, segment_id, revision)).fetchone()
        return json.loads(row["data"]) if row and row["data"] else None

    def revisions(self, interview_id: str) -> dict[int, dict]:
        """Segment ID -> {"revision", "english_by_hand"} for the current version of each segment."""
        rows = self.db.execute(
            "SELECT segment_id, MAX(revision) AS revision, english_by_hand FROM review_versions"
            " WHERE interview_id=? GROUP BY segment_id", (interview_id,)).fetchall()
        return {r["segment_id"]: {"revision": r["revision"], "english_by_hand": bool(r["english_by_hand"])}
                for r in rows}

    def check_revision(self, interview_id: str, segment_id: int, revision: int) -> None:
        row = self.latest(interview_id, segment_id)
        if row is None:
            raise NotFound(f"interview {interview_id} has no segment {segment_id}")
        if row["revision"] != revision:
            current = json.loads(row["data"]) if row["data"] else None
            raise Conflict(segment_id, row["revision"], current, row["reviewer"], row["at"])

    # Changing -----------------------------------------------------------------------
    def change(self, interview: Interview, reviewer: str,
               apply: Callable[[tr.Transcript], tuple[list[Change], set[int]]]) -> tr.Transcript:
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
                for seg in t.segments:  # words that no longer spell an edited text are dropped, never left wrong
                    if seg.id in touched:
                        tr.fit_words(seg)
                if changes:
                    self._record(interview, reviewer, t, changes, touched)
                    t.segments.sort(key=lambda s: (s.start, s.id))
                    tr.write_atomic(path, t.to_json())
                    search.index_transcript(self.db, t, path)  # same transaction: found at once, or not saved
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        for c in changes:
            self.store.event("edit", sha256=interview.sha256, interview_id=interview.interview_id,
                             reviewer=reviewer, segment=c.segment_id, field=c.field, action=c.action)
        if changes:
            log.info("%s: %d change(s) by a reviewer to segment(s) %s", interview.interview_id, len(changes),
                     sorted(s for s in {c.segment_id for c in changes} if s is not None))
            write_review_file(self, interview)  # keeps an untouched review.txt current
        return t

    def _record(self, interview: Interview, reviewer: str, t: tr.Transcript, changes: list[Change],
                touched: set[int]) -> None:
        stamp = now()
        iid = interview.interview_id
        if any(c.field != "status" for c in changes):
            if t.review.get("status", "unreviewed") == "unreviewed":
                changes.append(Change(None, "status", "unreviewed", "in_progress", "status"))
                t.review["status"] = "in_progress"
        reviewers = t.review.setdefault("reviewers", [])
        if reviewer not in reviewers:
            reviewers.append(reviewer)
        segments = {s.id: s for s in t.segments}
        for seg_id in touched:
            row = self.latest(iid, seg_id)
            by_hand = bool(row["english_by_hand"]) if row else False
            for c in changes:  # split and merge keep whoever wrote the English
                if c.segment_id == seg_id and c.field == "english" and c.action in HAND_WRITTEN:
                    by_hand = True
                elif c.segment_id == seg_id and c.field == "english" and c.action == MACHINE_TRANSLATION:
                    by_hand = False
            seg = segments.get(seg_id)
            self.db.execute(
                "INSERT INTO review_versions VALUES (?,?,?,?,?,?,?)",
                (iid, seg_id, (row["revision"] + 1) if row else 0, stamp, reviewer,
                 json.dumps(asdict(seg)) if seg else None, int(by_hand)))
        for c in changes:
            self.db.execute(
                "INSERT INTO review_audit (at, interview_id, segment_id, reviewer, action, field, before, after)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (stamp, iid, c.segment_id, reviewer, c.action, c.field,
                 json.dumps(c.before, ensure_ascii=False), json.dumps(c.after, ensure_ascii=False)))

    def apply_edits(self, interview: Interview, reviewer: str, edits: list[Edit],
                    action: str = "edit") -> tr.Transcript:
        """Field edits to several segments, all or nothing; the first stale one refuses them all."""
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
            return changes, touched

        return self.change(interview, reviewer, apply)

    def save(self, interview: Interview, reviewer: str, segment_id: int, revision: int,
             changes: dict) -> tr.Transcript:
        return self.apply_edits(interview, reviewer, [Edit(segment_id, revision, changes)])

    def split(self, interview: Interview, reviewer: str, segment_id: int, revision: int, at: float,
              offset: int) -> tr.Transcript:
        """Split a segment at a time, its source text at ``offset``, its English in proportion."""

        def apply(t: tr.Transcript):
            self.check_revision(interview.interview_id, segment_id, revision)
            seg = next(s for s in t.segments if s.id == segment_id)
            if not seg.start < at < seg.end:
                raise ReviewError(f"split time {at:.2f}s is not inside segment {segment_id} "
                                  f"({seg.start:.2f}s-{seg.end:.2f}s); play to the split point first")
            if not 0 <= offset <= len(seg.text):
                raise ReviewError(f"split position {offset} is outside the segment's text")
            new_id = 1 + max([s.id for s in t.segments] + [r[0] for r in self.db.execute(
                "SELECT MAX(segment_id) FROM review_versions WHERE interview_id=?", (interview.interview_id,))
                if r[0] is not None])
            english_a = english_b = seg.english
            if seg.english:
                english_a, english_b = _split_proportionally(seg.english, offset / max(len(seg.text), 1))
            second = tr.Segment(**{**asdict(seg), "id": new_id, "start": round(at, 3), "text": seg.text[offset:].strip(),
                                   "english": english_b, "reviewed": False, "flags": list(seg.flags)})
            before = asdict(seg)
            seg.end, seg.text, seg.english, seg.reviewed = round(at, 3), seg.text[:offset].strip(), english_a, False
            t.segments.append(second)
            changes = [Change(seg.id, name, before[name], getattr(seg, name), f"split into {seg.id} and {new_id}")
                       for name in ("end", "text", "english", "reviewed") if before[name] != getattr(seg, name)]
            changes.append(Change(new_id, "segment", None, asdict(second), f"split from {seg.id}"))
            return changes, {seg.id, new_id}

        return self.change(interview, reviewer, apply)

    def merge(self, interview: Interview, reviewer: str, segment_id: int, revision: int,
              next_revision: int) -> tr.Transcript:
        """Merge a segment with the one after it; the later one's ID is retired, not reused."""

        def apply(t: tr.Transcript):
            index = next(i for i, s in enumerate(t.segments) if s.id == segment_id)
            if index + 1 >= len(t.segments):
                raise ReviewError(f"segment {segment_id} is the last one; there is nothing after it to merge")
            seg, nxt = t.segments[index], t.segments[index + 1]
            self.check_revision(interview.interview_id, seg.id, revision)
            self.check_revision(interview.interview_id, nxt.id, next_revision)
            before = asdict(seg)
            seg.end = nxt.end
            seg.text = f"{seg.text} {nxt.text}".strip()
            seg.words = seg.words + nxt.words
            if seg.english is not None or nxt.english is not None:
                seg.english = f"{seg.english or ''} {nxt.english or ''}".strip()
            seg.flags = list(dict.fromkeys(seg.flags + nxt.flags))
            seg.speaker = seg.speaker or nxt.speaker
            seg.reviewed = False
            seg.withheld = seg.withheld or nxt.withheld
            t.segments.remove(nxt)
            action = f"merged {seg.id} with {nxt.id}"
            changes = [Change(seg.id, name, before[name], getattr(seg, name), action)
                       for name in ("end", "text", "english", "flags", "speaker", "reviewed", "withheld")
                       if before[name] != getattr(seg, name)]
            changes.append(Change(nxt.id, "segment", asdict(nxt), None, f"merged into {seg.id}"))
            return changes, {seg.id, nxt.id}

        return self.change(interview, reviewer, apply)

    def retranslate(self, interview: Interview, reviewer: str, segment_id: int, revision: int,
                    replace: bool = False) -> tr.Transcript:
        """Machine English for the segment's (edited) source; hand-written English only if ``replace``."""
        from ..translate import TranslationError, Translator

        self.check_revision(interview.interview_id, segment_id, revision)
        seg = next(s for s in tr.load(interview.out_dir / tr.REVIEWED_FILE).segments if s.id == segment_id)
        if self._translator is None:
            self._translator = Translator(self.settings)
        try:
            english = self._translator.translate(seg.text, seg.language)
        except TranslationError as exc:
            raise ReviewError(str(exc)) from None
        if self.revisions(interview.interview_id)[segment_id]["english_by_hand"] and seg.english and not replace:
            raise NeedsConfirmation(english)
        return self.apply_edits(interview, reviewer, [Edit(segment_id, revision, {"english": english})],
                                action=MACHINE_TRANSLATION)

    def set_status(self, interview: Interview, reviewer: str, status: str) -> tr.Transcript:
        if status not in STATUSES:
            raise ReviewError(f"status {status!r} is not one of {', '.join(STATUSES)}")

        def apply(t: tr.Transcript):
            before = t.review.get("status", "unreviewed")
            t.review["status"] = status
            return ([Change(None, "status", before, status, "status")] if before != status else []), set()

        return self.change(interview, reviewer, apply)

    def rename_speaker(self, interview: Interview, reviewer: str, old: str, new: str) -> tr.Transcript:
        """Name a speaker once for the whole interview ("S1" -> "Interviewer"): one audit entry,
        and every segment with that label gets a new revision. A name already in use merges them."""
        old, new = (old or "").strip(), (new or "").strip()
        if not new or new == old:
            raise ReviewError("give the speaker a new name, e.g. Interviewer")

        def apply(t: tr.Transcript):
            hit = [s for s in t.segments if s.speaker == old]
            if not hit:
                labels = sorted({s.speaker for s in t.segments if s.speaker})
                raise ReviewError(f"no segment has the speaker {old!r}; speakers here: {', '.join(labels) or 'none'}")
            for seg in hit:
                seg.speaker = new
            names = t.speakers.setdefault("names", {})  # machine label -> the name reviewers gave it
            names[next((k for k, v in names.items() if v == old), old)] = new
            return [Change(None, "speaker", old, new, "rename speaker")], {s.id for s in hit}

        return self.change(interview, reviewer, apply)

    def merge_speakers(self, interview: Interview, reviewer: str, source: str,
                       target: str) -> tr.Transcript:
        """Merge one speaker label into another ("S3" into "S1") where the voice step split one
        voice in two: one audit entry, and every segment of ``source`` gets a new revision."""
        source, target = (source or "").strip(), (target or "").strip()
        if not source or not target or source == target:
            raise ReviewError("name two different speakers: the one to merge and the one to keep")

        def apply(t: tr.Transcript):
            labels = sorted({s.speaker for s in t.segments if s.speaker})
            for name in (source, target):
                if name not in labels:
                    raise ReviewError(f"no segment has the speaker {name!r}; "
                                      f"speakers here: {', '.join(labels) or 'none'}")
            hit = [s for s in t.segments if s.speaker == source]
            for seg in hit:
                seg.speaker = target
            t.speakers.setdefault("merged", []).append({"from": source, "into": target})
            return [Change(None, "speaker", source, target, MERGE_SPEAKERS)], {s.id for s in hit}

        return self.change(interview, reviewer, apply)

    # Audit --------------------------------------------------------------------------
    def audit(self, interview_id: str, segment_id: int | None = None) -> list[dict]:
        """The audit entries of one segment (or of all the interview), oldest first."""
        if segment_id is None:
            rows = self.db.execute("SELECT * FROM review_audit WHERE interview_id=? ORDER BY id", (interview_id,))
        else:
            rows = self.db.execute("SELECT * FROM review_audit WHERE interview_id=? AND segment_id=? ORDER BY id",
                                   (interview_id, segment_id))
        return [{**dict(r), "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in rows]


def _split_proportionally(text: str, fraction: float) -> tuple[str, str]:
    """Cut text at the word boundary nearest the given fraction of its length."""
    target = round(len(text) * fraction)
    spaces = [i for i, ch in enumerate(text) if ch.isspace()]
    if not spaces:
        return (text, "") if fraction >= 0.5 else ("", text)
    cut = min(spaces, key=lambda i: abs(i - target))
    return text[:cut].strip(), text[cut:].strip()
