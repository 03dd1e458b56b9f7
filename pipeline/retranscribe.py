"""Transcribing finished interviews again: with a better model, or in the right language.

A request puts the interview back in the queue with what to change (``meta["retranscribe"]``);
the job then runs like any other (on a coordinator its pieces go to the workers), keeps the
transcript it replaces as a numbered version (:mod:`pipeline.versions`) and carries a started
review over (:mod:`pipeline.review.rebase`). Nothing is changed until the new transcript is whole.
"""

from __future__ import annotations

import getpass
import hashlib
import sqlite3
from dataclasses import dataclass

from . import asr, models, versions
from . import transcript as tr
from .config import LANGUAGES, Settings
from .outbox import output_dir
from .runner import RETRANSCRIBE
from .store import Job, Store, now


class RetranscribeError(ValueError):
    """A request that cannot be carried out; the message says what to do."""


class TakenError(RetranscribeError):
    """Another run changed the interview between choosing it and requesting it."""


@dataclass
class Choice:
    job: Job
    made: versions.Made
    reason: str = ""  # why it was left out; empty when chosen
    resume: bool = False  # an earlier request whose run stopped: run it, do not request again


def current_model_sha(settings: Settings, language: str | None) -> str | None:
    """The SHA-256 of the model the settings choose now for ``language`` (None: unknown here)."""
    try:
        return models.resolve_for_engine(settings, asr.engine_name(settings), language=language)[1]
    except models.ModelError:
        return None


def choose(
    settings: Settings,
    store: Store,
    interviews: list[str],
    case: str | None,
    every: bool,
    unreviewed_only: bool = False,
    outdated: bool = False,
) -> list[Choice]:
    """The finished interviews named (or all, or a case's), each with why it is left out, if it is."""
    if bool(interviews) + bool(case) + every != 1:
        raise RetranscribeError("name interviews, or give --case ID, or --all (one of the three)")
    if every or case:
        jobs = [j for j in store.jobs() if j.state == "done" and (every or j.case_id == case)]
        if case and not jobs:
            raise RetranscribeError(
                f"case {case!r} has no finished interviews; `testimony status` lists them"
            )
    else:
        jobs = []
        for name in interviews:
            found = store.find_jobs(name)
            if len(found) != 1:
                raise RetranscribeError(
                    f"{name!r} names {len(found)} interviews; `testimony status` lists them"
                )
            jobs.append(found[0])
    choices = []
    for job in jobs:
        folder = output_dir(settings, job)
        choice = Choice(job, versions.made_by(folder))
        if job.state == "queued" and RETRANSCRIBE in job.meta:
            choice.resume = True
        elif job.state == "queued":
            choice.reason = (
                f"not finished (queued): `testimony retry {job.interview_id}` finishes it"
            )
        elif job.state != "done":
            choice.reason = f"not finished ({job.state}); `testimony retry` is for failed ones"
        elif (
            unreviewed_only
            and tr.load_current(folder).review.get("status", "unreviewed") != "unreviewed"
        ):
            choice.reason = "review started (--unreviewed-only)"
        elif outdated and choice.made.sha256 == current_model_sha(settings, job.language):
            choice.reason = "already on the model the settings choose (--outdated)"
        elif _review_file_changed(settings, store, job):
            choice.reason = (
                "its review.txt holds edits not imported yet: run `testimony review import "
                f"{folder / 'review.txt'}` first"
            )
        choices.append(choice)
    return choices


def _review_file_changed(settings: Settings, store: Store, job: Job) -> bool:
    """A review.txt a person changed since this tool wrote it (its edits would not fit the new text)."""
    path = output_dir(settings, job) / "review.txt"
    if not path.exists():
        return False
    try:
        row = store.db.execute(
            "SELECT sha256 FROM review_files WHERE interview_id=?", (job.interview_id,)
        ).fetchone()
    except sqlite3.OperationalError:  # no review table: this tool never wrote the file
        return True
    return row is None or hashlib.sha256(path.read_bytes()).hexdigest() != row[0]


def request(store: Store, job: Job, language: str | None, model: str | None) -> Job:
    """Queue the interview again with what to change; recorded in the custody log."""
    if language is not None and language not in LANGUAGES:
        raise RetranscribeError(f"--language {language!r} is not one of {', '.join(LANGUAGES)}")
    asked = {
        "requested_at": now(),
        "by": getpass.getuser(),
        "model": model,
        "language": language,
        "previous_language": job.language,
    }
    fields = {
        "state": "queued",
        "attempts": 0,
        "error": None,
        "stage": None,
        "progress": 0.0,
        "meta": {**job.meta, RETRANSCRIBE: asked},
    }
    if language is not None:
        fields["language"] = language
    requested = store.finish(
        job.id,
        fields,
        "retranscribe requested",
        sha256=job.sha256,
        interview_id=job.interview_id,
        only_if="done",
        **{k: v for k, v in asked.items() if k != "requested_at"},
    )
    if not requested:
        state = (store.job(job.id) or job).state
        raise TakenError(
            f"another run took it first (now {state}); `testimony status` shows its progress"
        )
    return store.job(job.id)
