"""New machine text offered beside a reviewed segment after the interview was transcribed again.

A segment a reviewer edited or marked reviewed keeps its reviewed text; what the new model heard
in the same stretch is kept in ``suggestions.json`` beside ``reviewed.json``, with the word
differences, for the page and ``review.txt`` to show. A suggestion is only ever shown: taking it
is a normal, audited edit by a reviewer.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import transcript as tr

FILE = "suggestions.json"


@dataclass
class Suggestion:
    segment_id: int
    text: str  # the new machine text for the segment's stretch
    english: str | None
    version: int  # the machine transcript it came from
    model: str  # its model, as a person reads it (name and SHA-256 prefix)
    diff: list[
        list[str]
    ]  # [op, words]: "=" same, "-" only in the reviewed text, "+" only in the new


def word_diff(reviewed: str, machine: str) -> list[list[str]]:
    """The word differences from the reviewed text to the machine's."""
    old, new = reviewed.split(), machine.split()
    ops: list[list[str]] = []
    for tag, a1, a2, b1, b2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append(["=", " ".join(old[a1:a2])])
            continue
        if a2 > a1:
            ops.append(["-", " ".join(old[a1:a2])])
        if b2 > b1:
            ops.append(["+", " ".join(new[b1:b2])])
    return ops


def diff_text(diff: list[list[str]]) -> str:
    """One line: ``[-reviewed words-]{+new words+}`` around the words both have (as wdiff writes)."""
    marks = {"=": "{}", "-": "[-{}-]", "+": "{{+{}+}}"}
    return " ".join(marks[op].format(words) for op, words in diff)


def load(out_dir: Path) -> dict[int, Suggestion]:
    path = out_dir / FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {int(k): Suggestion(**v) for k, v in data.items()}


def save(out_dir: Path, found: dict[int, Suggestion]) -> None:
    content = json.dumps(
        {str(k): asdict(v) for k, v in sorted(found.items())}, ensure_ascii=False, indent=2
    )
    tr.write_atomic(out_dir / FILE, content + "\n")
