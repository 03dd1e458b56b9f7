"""What each role sees: the press role never receives withheld text, through any route.

Reviewers and admins see everything, withheld parts marked (they decide what to withhold and
check it). The single-token holder is the one person at this machine's keyboard, who can read
the files anyway, and sees everything too. The press role sees what an export would show:

- a withheld segment's text, English and words are replaced by "[segment withheld]";
- a withheld term (and its inflected forms) is replaced by "[name withheld]" wherever it occurs:
  text, English, speaker names, reviewer names, the history, conflicts, proposed translations;
- the list of withheld terms itself is never sent (only how many there are);
- a segment whose text is hidden cannot be edited, split, merged or re-translated by the press
  role (saving the mask would overwrite the witness's words), and no speaker can be renamed
  while a speaker name is hidden;
- the history of an interview with a withheld segment shows who changed what and when, but not
  the values (an older version of a segment may hold what is withheld now);
- the recording of an interview with anything withheld is refused (a name is audible even
  where the text hides it): the exported video mutes withheld segments;
- search answers in the press view (pipeline/search.py), and file names are not shown.

docs/security.md ("What each role sees") says the same for users; tests/security/ checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import transcript as tr
from ..export import redact
from ..withheld import TermPattern, redact_text, term_pattern
from .login import User

HIDDEN_FIELDS = ("text", "english", "speaker")


def sees_withheld(user: User) -> bool:
    return user.token_mode or user.role != "press"


@dataclass
class PressView:
    """The press role's view of one transcript."""

    pattern: TermPattern | None
    withheld: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, t: tr.Transcript) -> "PressView":
        return cls(
            term_pattern(t.review.get("withheld_terms", [])),
            {s.id for s in t.segments if s.withheld},
        )

    @property
    def anything(self) -> bool:
        """Whether anything in this interview is withheld."""
        return bool(self.withheld) or self.pattern is not None

    def text(self, value):
        """A value with every withheld term replaced, inside lists and objects too."""
        if isinstance(value, str):
            return redact_text(value, self.pattern)
        if isinstance(value, list):
            return [self.text(v) for v in value]
        if isinstance(value, dict):
            return {k: self.text(v) for k, v in value.items()}
        return value

    def hides(self, segment: dict) -> bool:
        """Whether this role's copy of a segment differs from the real one."""
        return segment.get("withheld") or any(
            self.text(segment.get(name)) != segment.get(name) for name in HIDDEN_FIELDS
        )

    def segment(self, segment: dict) -> dict:
        """A segment (a dict) as the press role may see it; ``muted`` when something is hidden."""
        if segment.get("withheld"):
            return {
                **segment,
                "text": redact.SEGMENT_MARK,
                "english": redact.SEGMENT_MARK,
                "speaker": self.text(segment.get("speaker")),
                "words": [],
                "muted": True,
            }
        if self.hides(segment):
            return {
                **segment,
                **{name: self.text(segment.get(name)) for name in HIDDEN_FIELDS},
                "words": [],
                "muted": True,
            }
        return {**segment, "muted": False}

    def review(self, review: dict) -> dict:
        terms = {w.strip().casefold() for w in review.get("withheld_terms", []) if w.strip()}
        return {
            "status": review.get("status", "unreviewed"),
            "reviewers": self.text(list(review.get("reviewers", []))),
            "withheld_terms": [],
            "withheld_term_count": len(terms),
        }

    def audit(self, entries: list[dict]) -> list[dict]:
        mute = bool(self.withheld)
        return [
            {
                **e,
                "reviewer": self.text(e["reviewer"]),
                "muted": mute,
                "before": None if mute else self.text(e["before"]),
                "after": None if mute else self.text(e["after"]),
            }
            for e in entries
        ]


def press_may_edit(view: PressView, t: tr.Transcript, segment_ids: list[int]) -> str | None:
    """Why the press role may not change these segments (None: it may)."""
    hidden = sorted(s.id for s in t.segments if s.id in segment_ids and view.hides(_as_dict(s)))
    if hidden:
        return (
            f"segment {', '.join(map(str, hidden))} holds withheld text, which the press role does "
            f"not see; a reviewer or admin can change it"
        )
    return None


def press_may_rename(view: PressView, t: tr.Transcript) -> str | None:
    if view.pattern and any(view.text(s.speaker) != s.speaker for s in t.segments if s.speaker):
        return "a speaker's name is withheld; a reviewer or admin can rename speakers here"
    return None


def _as_dict(seg: tr.Segment) -> dict:
    return {"withheld": seg.withheld, **{name: getattr(seg, name) for name in HIDDEN_FIELDS}}
