"""Where an interview's files live in the outbox, and what they are called.

Its own low module so that the review page, search and export can find an interview's files
without importing the job runner (and with it speech recognition and translation).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings
    from .store import Job

MACHINE_FILE = "transcript.json"  # rewritten by every pipeline run
REVIEWED_FILE = "reviewed.json"  # human edits: reviewers' actions write it, never the pipeline
PROVENANCE_FILE = "provenance.json"  # what made the transcript: versions, models, settings
FAILED_FILE = "FAILED.txt"  # why a job failed, in place of its transcript
REVIEW_FILE = "review.txt"  # the transcript as a text file a reviewer can edit


def output_dir(settings: Settings, job: Job) -> Path:
    """The folder of one interview's files: ``outbox/<case>/<interview>``."""
    return settings.outbox / job.case_id / job.interview_id
