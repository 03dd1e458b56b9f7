"""One interview as the review tools see it: its IDs and where its files are.

Below both ``edits`` (which keeps reviewers' changes) and ``reviewfile`` (which writes
review.txt after each save), so that neither needs the other's types.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import VIDEO_EXTENSIONS


@dataclass
class Interview:
    interview_id: str
    case_id: str
    sha256: str
    out_dir: Path
    evidence_path: Path

    @property
    def media_kind(self) -> str:
        return "video" if self.evidence_path.suffix.lower() in VIDEO_EXTENSIONS else "audio"
