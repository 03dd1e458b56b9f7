"""Carry a review over to a new machine transcript, losing none of a reviewer's saved work.

After an interview is transcribed again, its ``reviewed.json`` is rebuilt from the new machine
transcript:

- a segment a reviewer edited (saved at least once), marked reviewed or withheld keeps all it
  has (text, English, speaker, times, flags); what the new model heard in its stretch (the new
  segments whose middle falls inside it) is offered beside it as a suggestion
  (:mod:`.suggestions`) when it differs;
- every other old segment is retired (its ID is never reused) and the new machine segments
  outside the kept ones take their place, with new IDs, their word times, speakers, flags and
  English;
- withheld terms, reviewers and the review status stay; the speaker names reviewers gave stay
  on the kept segments only, as the new speaker labels may be other people.

It runs in one write transaction under the reviewed.json lock, like every reviewer's save, and
is recorded in the audit log; the old reviewed.json is kept in ``versions/N/``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from .. import search
from .. import transcript as tr
from ..config import Settings
from ..reviewed_lock import reviewed_lock
from ..store import Job, now
from ..versions import Version, made_by
from . import suggestions
from .edits import Interview, Reviews
from .reviewfile import write_review_file

log = logging.getLogger(__name__)

ACTOR = "testimony retranscribe"  # the audit log's "reviewer" for what the tool itself did


@dataclass
class Carried:
    """What became of a review; goes into the custody entry of the retranscription."""

    kept: list[int] = field(default_factory=list)
    suggested: list[int] = field(default_factory=list)
    retired: int = 0
    added: int = 0


def _kept(reviews: Reviews, interview_id: str, t: tr.Transcript) -> list[tr.Segment]:
    """The segments a reviewer saved at least once, marked reviewed or withheld."""
    revisions = reviews.revisions(interview_id)
    return [
        s
        for s in t.segments
        if s.reviewed or s.withheld or revisions.get(s.id, {}).get("revision", 0) > 0
    ]


def _inside(seg: tr.Segment, kept: list[tr.Segment]) -> tr.Segment | None:
    middle = (seg.start + seg.end) / 2
    return next((k for k in kept if k.start <= middle <= k.end), None)


def carry(reviews: Reviews, interview: Interview, version: Version) -> Carried | None:
    """Rebuild reviewed.json on the new transcript.json; None when no review was started."""
    out, iid = interview.out_dir, interview.interview_id
    path = out / tr.REVIEWED_FILE
    if not path.exists():
        return None
    new = tr.load(out / tr.MACHINE_FILE)  # the machine's header (language, source, translation)
    machine, number, model = new.segments, version.number + 1, made_by(out).label
    with reviewed_lock(out):
        reviews.db.execute("BEGIN IMMEDIATE")
        try:
            old = tr.load(path)
            reviews._first_versions(interview, old)
            kept = _kept(reviews, iid, old)
            heard: dict[int, list[tr.Segment]] = {k.id: [] for k in kept}
            added, next_id = [], _next_id(reviews, iid, old)
            for seg in machine:
                home = _inside(seg, kept)
                if home is not None:
                    heard[home.id].append(seg)
                    continue
                added.append(
                    tr.Segment(
                        **{**asdict(seg), "id": next_id, "reviewed": False, "withheld": False}
                    )
                )
                next_id += 1
            offered = _suggestions(kept, heard, number, model)
            retired = [s for s in old.segments if s.id not in {k.id for k in kept}]
            new.segments = sorted(kept + added, key=lambda s: (s.start, s.id))
            new.review, new.speakers = old.review, {**new.speakers, "names": {}}
            before = old.review.get("status", "unreviewed")
            if added and before == "reviewed":  # new machine text is not reviewed text
                new.review["status"] = "in_progress"
            stamp = now()
            for seg in retired:
                _version(reviews, iid, seg.id, stamp, None)
            for seg in added:
                _version(reviews, iid, seg.id, stamp, seg)
            _audit(
                reviews,
                iid,
                stamp,
                "retranscribed",
                "transcript",
                {"version": version.number, "model": version.made.label},
                {
                    "version": number,
                    "kept": [s.id for s in kept],
                    "retired": len(retired),
                    "added": len(added),
                },
            )
            if new.review.get("status") != before:
                _audit(reviews, iid, stamp, "status", "status", before, new.review["status"])
            tr.write_atomic(path, new.to_json())
            suggestions.save(out, offered)
            search.index_transcript(reviews.db, new, path)
            reviews.db.execute("COMMIT")
        except BaseException:
            reviews.db.execute("ROLLBACK")
            raise
    write_review_file(reviews, interview)
    log.info(
        "%s: review carried to version %d: %d kept, %d retired, %d new",
        iid,
        number,
        len(kept),
        len(retired),
        len(added),
    )
    return Carried(sorted(s.id for s in kept), sorted(offered), len(retired), len(added))


def _next_id(reviews: Reviews, interview_id: str, old: tr.Transcript) -> int:
    """An ID no segment of this interview ever had (retired IDs are never reused)."""
    row = reviews.db.execute(
        "SELECT MAX(segment_id) FROM review_versions WHERE interview_id=?", (interview_id,)
    ).fetchone()
    return 1 + max([s.id for s in old.segments] + ([row[0]] if row[0] is not None else []))


def _audit(
    reviews: Reviews, interview_id: str, stamp: str, action: str, name: str, before, after
) -> None:
    reviews.db.execute(
        "INSERT INTO review_audit (at, interview_id, segment_id, reviewer, action, field, before,"
        " after) VALUES (?,?,?,?,?,?,?,?)",
        (
            stamp,
            interview_id,
            None,
            ACTOR,
            action,
            name,
            json.dumps(before, ensure_ascii=False),
            json.dumps(after, ensure_ascii=False),
        ),
    )


def _suggestions(
    kept: list[tr.Segment], heard: dict[int, list[tr.Segment]], number: int, model: str
) -> dict[int, suggestions.Suggestion]:
    """The new machine text of each kept segment's stretch, where it differs from the reviewed."""
    offered = {}
    for seg in kept:
        parts = heard[seg.id]
        text = " ".join(p.text for p in parts).strip()
        if not parts or text == seg.text.strip():
            continue
        english = " ".join(p.english for p in parts if p.english) or None
        offered[seg.id] = suggestions.Suggestion(
            seg.id, text, english, number, model, suggestions.word_diff(seg.text, text)
        )
    return offered


def _version(
    reviews: Reviews, interview_id: str, segment_id: int, stamp: str, seg: tr.Segment | None
) -> None:
    """A new revision of a segment: its data, or NULL once retired (a stale save is refused)."""
    row = reviews.latest(interview_id, segment_id)
    reviews.db.execute(
        "INSERT INTO review_versions VALUES (?,?,?,?,?,?,?)",
        (
            interview_id,
            segment_id,
            (row["revision"] + 1) if row else 0,
            stamp,
            ACTOR,
            json.dumps(asdict(seg)) if seg else None,
            0,
        ),
    )


def carry_for_job(settings: Settings, job: Job, version: Version) -> dict | None:
    """The job runner's hook (worker.ReviewCarrier): carry the review over, say what was kept."""
    reviews = Reviews(settings)
    try:
        carried = carry(reviews, reviews.find(job.interview_id), version)
    finally:
        reviews.close()
    return asdict(carried) if carried else None
