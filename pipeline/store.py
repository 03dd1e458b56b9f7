"""The job database: originals, jobs and the chain-of-custody log, in SQLite under the home folder.

Jobs survive a restart: a job left ``running`` by a process that died is put back in the
queue when a job runner starts, and claiming a job is one transaction, so two runners on the
same home folder never take the same one.

The event log is the chain of custody: append-only (triggers refuse updates and deletes),
and each entry carries the SHA-256 of the one before it, so an entry changed or removed
later breaks the chain. The newest entry's hash is also kept in ``custody.head`` beside the
database, so removing entries from the end is detected too.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS originals (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    evidence_path TEXT NOT NULL,
    original_name TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    interview_id TEXT UNIQUE NOT NULL,
    sha256 TEXT NOT NULL UNIQUE REFERENCES originals(sha256),
    source_path TEXT NOT NULL,
    case_id TEXT,
    language TEXT,
    meta TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    stage TEXT,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    translation TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    output_dir TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    sha256 TEXT,
    interview_id TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
CREATE TABLE IF NOT EXISTS rejected (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    reason TEXT NOT NULL
);
"""

STATES = ("needs_case", "queued", "running", "done", "failed")
GENESIS = "0" * 64


def entry_hash(
    prev_hash: str, at: str, sha256: str | None, interview_id: str | None, kind: str, detail: str
) -> str:
    """The hash that links a custody entry to the one before it."""
    body = json.dumps([prev_hash, at, sha256, interview_id, kind, detail], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine's job runner on a shared folder: leave its job alone
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Job:
    id: int
    interview_id: str
    sha256: str
    source_path: str
    case_id: str | None
    language: str | None
    meta: dict
    state: str
    stage: str | None
    progress: float
    error: str | None
    translation: str | None
    attempts: int
    owner: str | None
    output_dir: str | None
    created_at: str
    updated_at: str
    evidence_path: str = ""
    original_name: str = ""


class Store:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # Originals and events ------------------------------------------------------------
    def original(self, sha256: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM originals WHERE sha256=?", (sha256,)).fetchone()

    def add_original(self, sha256: str, size: int, evidence_path: Path, name: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO originals VALUES (?,?,?,?,?)",
            (sha256, size, str(evidence_path), name, now()),
        )

    @property
    def head_file(self) -> Path:
        return self.path.with_name("custody.head")

    def event(
        self, kind: str, *, sha256: str | None = None, interview_id: str | None = None, **detail
    ) -> None:
        """Append a custody entry, linked by hash to the one before it."""
        self._append(kind, sha256, interview_id, detail)

    def finish(
        self,
        job_id: int,
        fields: dict,
        kind: str,
        *,
        sha256: str,
        interview_id: str,
        only_if: str | None = None,
        **detail,
    ) -> bool:
        """Update a job and append its custody entry in one transaction: never one without the
        other. With ``only_if``, only while the job is in that state (checked and changed under
        one write lock, so two processes cannot both change it); False when it was not."""
        return self._append(
            kind, sha256, interview_id, detail, job=(job_id, fields), only_if=only_if
        )

    def _append(
        self,
        kind: str,
        sha256: str | None,
        interview_id: str | None,
        detail: dict,
        job: tuple[int, dict] | None = None,
        only_if: str | None = None,
    ) -> bool:
        at, body = now(), json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if job is not None and only_if is not None:
                row = self.db.execute("SELECT state FROM jobs WHERE id=?", (job[0],)).fetchone()
                if row is None or row["state"] != only_if:
                    self.db.execute("ROLLBACK")
                    return False
            if job is not None:
                self.update(job[0], **job[1])
            last = self.db.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
            prev = last["hash"] if last else GENESIS
            digest = entry_hash(prev, at, sha256, interview_id, kind, body)
            cur = self.db.execute(
                "INSERT INTO events (at, sha256, interview_id, kind, detail, prev_hash, hash)"
                " VALUES (?,?,?,?,?,?,?)",
                (at, sha256, interview_id, kind, body, prev, digest),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._write_head(cur.lastrowid, digest)
        return True

    def _write_head(self, event_id: int, digest: str) -> None:
        # One temporary file per thread: the review page appends from several threads of one process.
        tmp = self.head_file.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "w") as fh:
            fh.write(f"{event_id} {digest}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.head_file)

    def events(self, interview_id: str | None = None) -> list[sqlite3.Row]:
        if interview_id is None:
            return self.db.execute("SELECT * FROM events ORDER BY id").fetchall()
        return self.db.execute(
            "SELECT * FROM events WHERE interview_id=? ORDER BY id", (interview_id,)
        ).fetchall()

    # Jobs ----------------------------------------------------------------------------
    def add_job(
        self,
        interview_id: str,
        sha256: str,
        source_path: str,
        case_id: str | None,
        language: str | None,
        meta: dict,
    ) -> Job:
        stamp = now()
        state = "queued" if case_id else "needs_case"
        self.db.execute(
            "INSERT INTO jobs (interview_id, sha256, source_path, case_id, language, meta, state,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                interview_id,
                sha256,
                source_path,
                case_id,
                language,
                json.dumps(meta, ensure_ascii=False),
                state,
                stamp,
                stamp,
            ),
        )
        return self.job_by_sha(sha256)

    def _job(self, row: sqlite3.Row | None) -> Job | None:
        if row is None:
            return None
        data = dict(row)
        data["meta"] = json.loads(data["meta"] or "{}")
        return Job(**data)

    _SELECT = (
        "SELECT jobs.*, originals.evidence_path, originals.original_name FROM jobs "
        "JOIN originals USING (sha256) "
    )

    def job(self, job_id: int) -> Job | None:
        return self._job(self.db.execute(self._SELECT + "WHERE jobs.id=?", (job_id,)).fetchone())

    def job_by_sha(self, sha256: str) -> Job | None:
        return self._job(
            self.db.execute(self._SELECT + "WHERE jobs.sha256=?", (sha256,)).fetchone()
        )

    def jobs(self, state: str | None = None) -> list[Job]:
        if state is None:
            rows = self.db.execute(self._SELECT + "ORDER BY jobs.id").fetchall()
        else:
            rows = self.db.execute(
                self._SELECT + "WHERE state=? ORDER BY jobs.id", (state,)
            ).fetchall()
        return [self._job(r) for r in rows]

    def find_jobs(self, key: str) -> list[Job]:
        """Jobs named by interview ID, SHA-256 prefix, original file name or source path."""
        rows = self.db.execute(
            self._SELECT
            + "WHERE interview_id=? OR jobs.sha256 LIKE ? OR original_name=? OR source_path=?"
            " OR source_path=?",
            (
                key,
                key.lower() + "%" if len(key) >= 8 else "\0",
                Path(key).name,
                key,
                str(Path(key).resolve()),
            ),
        ).fetchall()
        return [self._job(r) for r in rows]

    def update(self, job_id: int, **fields) -> None:
        if "meta" in fields:
            fields["meta"] = json.dumps(fields["meta"], ensure_ascii=False)
        fields["updated_at"] = now()
        columns = ", ".join(f"{name}=?" for name in fields)
        self.db.execute(f"UPDATE jobs SET {columns} WHERE id=?", (*fields.values(), job_id))

    def claim(self, job_id: int | None = None) -> Job | None:
        """Take the oldest queued job (or the given one) for this process, atomically."""
        owner = owner_id()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if job_id is None:
                row = self.db.execute(
                    "SELECT id FROM jobs WHERE state='queued' ORDER BY id LIMIT 1"
                ).fetchone()
            else:
                row = self.db.execute(
                    "SELECT id FROM jobs WHERE state='queued' AND id=?", (job_id,)
                ).fetchone()
            if row is None:
                self.db.execute("COMMIT")
                return None
            self.db.execute(
                "UPDATE jobs SET state='running', owner=?, attempts=attempts+1, error=NULL, progress=0,"
                " updated_at=? WHERE id=?",
                (owner, now(), row["id"]),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.job(row["id"])

    def requeue_orphans(self, max_attempts: int) -> list[Job]:
        """Put back jobs whose runner died mid-run; fail those that keep killing runners."""
        orphans = [j for j in self.jobs("running") if not _owner_alive(j.owner)]
        for job in orphans:
            if job.attempts >= max_attempts:
                self.update(
                    job.id,
                    state="failed",
                    owner=None,
                    error=f"stopped during {job.stage or 'processing'} {job.attempts} times; "
                    f"run `testimony retry {job.interview_id}` to try again",
                )
            else:
                self.update(job.id, state="queued", owner=None)
            self.event(
                "requeued", sha256=job.sha256, interview_id=job.interview_id, stage=job.stage
            )
        return orphans

    def release_own(self) -> None:
        """On a clean stop, give this process's running jobs back to the queue, uncounted."""
        self.db.execute(
            "UPDATE jobs SET state='queued', owner=NULL, attempts=MAX(attempts-1, 0), updated_at=?"
            " WHERE state='running' AND owner=?",
            (now(), owner_id()),
        )

    # Files left alone in a watched folder -------------------------------------------
    def rejected(self, path: Path) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM rejected WHERE path=?", (str(path),)).fetchone()

    def reject(self, path: Path, size: int, mtime: float, reason: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO rejected VALUES (?,?,?,?)", (str(path), size, mtime, reason)
        )
