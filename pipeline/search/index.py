"""The search index: its tables, and keeping them in step with the interviews' files.

See :mod:`pipeline.search` for how text is folded and how withheld text is kept from the press.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from .. import transcript as tr
from ..folding import fold
from ..withheld import SHOWN_INTERVIEW_FIELDS, redact_text, term_pattern

log = logging.getLogger(__name__)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS search_interviews (
        id INTEGER PRIMARY KEY,
        interview_id TEXT UNIQUE NOT NULL,
        case_id TEXT,
        source TEXT,            -- the file it was read from (reviewed.json or transcript.json)
        signature TEXT,         -- that file's size and time then; a change means re-read it
        fields TEXT,            -- interview ID, case ID and sidecar values, as reviewers see them
        pfields TEXT            -- what the press may see of them (as exports show)
    )""",
    """CREATE TABLE IF NOT EXISTS search_segments (
        id INTEGER PRIMARY KEY,
        interview_id TEXT NOT NULL,
        case_id TEXT,
        segment_id INTEGER NOT NULL,
        language TEXT,
        start REAL,
        end REAL,
        withheld INTEGER NOT NULL DEFAULT 0,
        text TEXT, english TEXT, speaker TEXT,
        ptext TEXT, penglish TEXT, pspeaker TEXT,  -- redacted copies, only where a withheld term occurs
        hidden TEXT,            -- 'hidden' where the press must not match the text as reviewers see it
        UNIQUE (interview_id, segment_id)
    )""",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(text, english, speaker, ptext, penglish, pspeaker, hidden,"
    " content='search_segments', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_meta USING fts5(fields, pfields,"
    " content='search_interviews', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
)
SEGMENT_COLUMNS = (
    "language",
    "start",
    "end",
    "withheld",
    "text",
    "english",
    "speaker",
    "ptext",
    "penglish",
    "pspeaker",
    "hidden",
)
INDEXED = ("text", "english", "speaker", "ptext", "penglish", "pspeaker", "hidden")


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


def connect(database: Path) -> sqlite3.Connection:
    db = sqlite3.connect(database, timeout=30, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite3.Connection) -> None:
    """Create the tables; statement by statement, so it is safe inside a caller's transaction."""
    for statement in SCHEMA:
        db.execute(statement)


# Indexing -------------------------------------------------------------------------------


def file_signature(path: Path) -> str | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}"


def current_file(folder: Path) -> Path:
    reviewed = folder / tr.REVIEWED_FILE
    return reviewed if reviewed.exists() else folder / tr.MACHINE_FILE


def _field_values(t: tr.Transcript) -> list[str]:
    values = []
    for value in t.interview.values():
        if isinstance(value, (list, tuple)):
            values += [str(v) for v in value]
        elif value not in (None, ""):
            values.append(str(value))
    return values


def _rows(t: tr.Transcript) -> dict[int, tuple]:
    """Segment ID -> the values of SEGMENT_COLUMNS, as stored."""
    pattern = term_pattern(t.review.get("withheld_terms", []))
    rows = {}
    for s in t.segments:
        text, english, speaker = _nfc(s.text), _nfc(s.english), _nfc(s.speaker)
        public = (
            redact_text(text, pattern),
            redact_text(english, pattern),
            redact_text(speaker, pattern),
        )
        redacted = (
            public if public != (text, english, speaker) and not s.withheld else (None, None, None)
        )
        hidden = "hidden" if s.withheld or redacted[0] is not None else None
        rows[s.id] = (
            s.language,
            s.start,
            s.end,
            int(bool(s.withheld)),
            text,
            english,
            speaker,
            *redacted,
            hidden,
        )
    return rows


_FTS_COLUMNS = {"search_text": INDEXED, "search_meta": ("fields", "pfields")}


def _fts(
    db: sqlite3.Connection, table: str, rowid: int, values: tuple, delete: bool = False
) -> None:
    """Add a row's folded values to an FTS table, or take them out ('delete' needs the values indexed)."""
    columns, marks = ", ".join(_FTS_COLUMNS[table]), ",".join("?" * len(values))
    folded = (rowid, *(fold(v) for v in values))
    if delete:
        db.execute(
            f"INSERT INTO {table}({table}, rowid, {columns}) VALUES('delete', ?, {marks})", folded
        )
    else:
        db.execute(f"INSERT INTO {table}(rowid, {columns}) VALUES(?, {marks})", folded)


@contextmanager
def _transaction(db: sqlite3.Connection):
    """Run inside the caller's transaction if there is one (a reviewer's save), else in one of our own."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def index_transcript(db: sqlite3.Connection, t: tr.Transcript, source: Path | None = None) -> None:
    """Bring one interview's rows up to date with ``t`` (read from ``source``), changing only what changed."""
    ensure_schema(db)
    signature = file_signature(source) if source else None
    with _transaction(db):
        _index_meta(db, t, source, signature)
        old = {
            r["segment_id"]: r
            for r in db.execute(
                "SELECT * FROM search_segments WHERE interview_id=?", (t.interview_id,)
            )
        }
        new = _rows(t)
        for seg_id, row in old.items():
            if (
                new.get(seg_id) != tuple(row[c] for c in SEGMENT_COLUMNS)
                or row["case_id"] != t.case_id
            ):
                _fts(db, "search_text", row["id"], tuple(row[c] for c in INDEXED), delete=True)
                db.execute("DELETE FROM search_segments WHERE id=?", (row["id"],))
                old[seg_id] = None
        for seg_id, values in new.items():
            if old.get(seg_id) is None:
                cur = db.execute(
                    f"INSERT INTO search_segments (interview_id, case_id, segment_id, {', '.join(SEGMENT_COLUMNS)})"
                    f" VALUES ({','.join('?' * (3 + len(values)))})",
                    (t.interview_id, t.case_id, seg_id, *values),
                )
                _fts(db, "search_text", cur.lastrowid, values[4:])


def _index_meta(
    db: sqlite3.Connection, t: tr.Transcript, source: Path | None, signature: str | None
) -> None:
    pattern = term_pattern(t.review.get("withheld_terms", []))
    fields = " \n".join([t.interview_id, t.case_id, *_field_values(t)])
    shown = [
        redact_text(str(t.interview[k]), pattern)
        for k in SHOWN_INTERVIEW_FIELDS
        if t.interview.get(k) not in (None, "")
    ]
    pfields = " \n".join([t.interview_id, t.case_id, *shown])
    row = db.execute(
        "SELECT * FROM search_interviews WHERE interview_id=?", (t.interview_id,)
    ).fetchone()
    if row is not None:
        _fts(db, "search_meta", row["id"], (row["fields"], row["pfields"]), delete=True)
        db.execute("DELETE FROM search_interviews WHERE id=?", (row["id"],))
    cur = db.execute(
        "INSERT INTO search_interviews (interview_id, case_id, source, signature, fields, pfields)"
        " VALUES (?,?,?,?,?,?)",
        (
            t.interview_id,
            t.case_id,
            str(source) if source else None,
            signature,
            _nfc(fields),
            _nfc(pfields),
        ),
    )
    _fts(db, "search_meta", cur.lastrowid, (_nfc(fields), _nfc(pfields)))


def remove(db: sqlite3.Connection, interview_id: str) -> None:
    with _transaction(db):
        for row in db.execute(
            "SELECT * FROM search_segments WHERE interview_id=?", (interview_id,)
        ).fetchall():
            _fts(db, "search_text", row["id"], tuple(row[c] for c in INDEXED), delete=True)
        db.execute("DELETE FROM search_segments WHERE interview_id=?", (interview_id,))
        row = db.execute(
            "SELECT * FROM search_interviews WHERE interview_id=?", (interview_id,)
        ).fetchone()
        if row is not None:
            _fts(db, "search_meta", row["id"], (row["fields"], row["pfields"]), delete=True)
            db.execute("DELETE FROM search_interviews WHERE id=?", (row["id"],))


def index_folder(db: sqlite3.Connection, folder: Path) -> None:
    """(Re-)index the interview in an outbox folder from the version people see (reviewed, else machine)."""
    source = current_file(folder)
    signature = file_signature(source)
    t = tr.load(source)
    index_transcript(db, t, source)
    if signature != file_signature(source):  # changed while we read it: read it again next time
        db.execute(
            "UPDATE search_interviews SET signature=NULL WHERE interview_id=?", (t.interview_id,)
        )


def update(database: Path, folder: Path) -> None:
    """The hook for writers of outbox files: never fails their work; a stale index heals at search time."""
    try:
        db = connect(database)
        try:
            index_folder(db, folder)
        finally:
            db.close()
    except (sqlite3.Error, OSError, tr.TranscriptError) as exc:
        log.warning(
            "search index not updated for %s (%s); `testimony search --reindex` rebuilds it",
            folder,
            type(exc).__name__,
        )


def reindex(db: sqlite3.Connection, folders: list[Path]) -> int:
    """Rebuild the whole index from the given outbox folders, in one transaction."""
    ensure_schema(db)
    with _transaction(db):
        for table in ("search_text", "search_meta"):
            db.execute(f"INSERT INTO {table}({table}) VALUES('delete-all')")
        db.execute("DELETE FROM search_segments")
        db.execute("DELETE FROM search_interviews")
        count = 0
        for folder in folders:
            if (folder / tr.MACHINE_FILE).exists():
                index_folder(db, folder)
                count += 1
    optimize(db)
    return count


def optimize(db: sqlite3.Connection) -> None:
    """Merge the index's segments into one b-tree: smaller and faster to query after bulk changes."""
    for table in ("search_text", "search_meta"):
        db.execute(f"INSERT INTO {table}({table}) VALUES('optimize')")


def stats(db: sqlite3.Connection) -> dict:
    ensure_schema(db)
    return {
        "interviews": db.execute("SELECT COUNT(*) FROM search_interviews").fetchone()[0],
        "segments": db.execute("SELECT COUNT(*) FROM search_segments").fetchone()[0],
    }
