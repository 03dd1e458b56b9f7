"""Full-text search over every interview, in the job database (SQLite FTS5), offline.

Folding. Reviewers and base models often type a Kazakh or Kyrgyz letter as its Russian-keyboard
stand-in (қ as к, ә as а, і as и), and ё as е. FTS5's unicode61 tokenizer folds case, but no
tokenizer option folds these letters: they are letters of their own, not letters with
diacritics, and Python cannot register a custom tokenizer without a C extension. So both sides
are folded here, to one common form, by a one-for-one letter mapping: the text handed to FTS5
and every query. Because the mapping keeps every letter a letter at the same place, the folded
text splits into the same tokens as the original; the index is an *external-content* table
whose content is the original text, so FTS5's own snippet() highlights the original words.

Withheld text. Each segment row keeps, beside the text reviewers see, a redacted copy of its
fields where a withheld term occurs (``ptext`` ...), and a withheld flag. Press searches match
only the redacted copy of such rows, and never withheld segments, so a withheld name cannot be
found, not even as a hit with its word blacked out. Reviewers see both, marked.

Freshness. Publishing, reviewers' saves and `testimony withhold` update the index. Each
interview also keeps the size and time of the file it was read from; a search re-reads any
interview among its hits whose file changed since, before answering.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .. import transcript as tr
from ..folding import fold
from ..withheld import SHOWN_INTERVIEW_FIELDS, redact_text, term_pattern

log = logging.getLogger(__name__)

ROLES = ("reviewer", "press", "admin")
LANGUAGES = ("kk", "ky", "ru", "en")
START, STOP = "\x02", "\x03"  # highlight marks inside snippets; renderers replace them
SNIPPET_TOKENS = 16

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
SEGMENT_COLUMNS = ("language", "start", "end", "withheld", "text", "english", "speaker", "ptext", "penglish",
                   "pspeaker", "hidden")
INDEXED = ("text", "english", "speaker", "ptext", "penglish", "pspeaker", "hidden")
# Matches ranked at most; a query with more ranks the newest CAP (a bounded time, and the
# hint to narrow it). Every match of a rarer query is ranked.
CAP = 5_000


class QueryError(ValueError):
    """A search that FTS5 cannot read; the message says how to write it."""


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

def _signature(path: Path) -> str | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return f"{info.st_size}:{info.st_mtime_ns}"


def _current_file(folder: Path) -> Path:
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
        public = (redact_text(text, pattern), redact_text(english, pattern), redact_text(speaker, pattern))
        redacted = public if public != (text, english, speaker) and not s.withheld else (None, None, None)
        hidden = "hidden" if s.withheld or redacted[0] is not None else None
        rows[s.id] = (s.language, s.start, s.end, int(bool(s.withheld)), text, english, speaker, *redacted, hidden)
    return rows


_FTS_COLUMNS = {"search_text": INDEXED, "search_meta": ("fields", "pfields")}


def _fts(db: sqlite3.Connection, table: str, rowid: int, values: tuple, delete: bool = False) -> None:
    """Add a row's folded values to an FTS table, or take them out ('delete' needs the values indexed)."""
    columns, marks = ", ".join(_FTS_COLUMNS[table]), ",".join("?" * len(values))
    folded = (rowid, *(fold(v) for v in values))
    if delete:
        db.execute(f"INSERT INTO {table}({table}, rowid, {columns}) VALUES('delete', ?, {marks})", folded)
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
    signature = _signature(source) if source else None
    with _transaction(db):
        _index_meta(db, t, source, signature)
        old = {r["segment_id"]: r for r in db.execute(
            "SELECT * FROM search_segments WHERE interview_id=?", (t.interview_id,))}
        new = _rows(t)
        for seg_id, row in old.items():
            if new.get(seg_id) != tuple(row[c] for c in SEGMENT_COLUMNS) or row["case_id"] != t.case_id:
                _fts(db, "search_text", row["id"], tuple(row[c] for c in INDEXED), delete=True)
                db.execute("DELETE FROM search_segments WHERE id=?", (row["id"],))
                old[seg_id] = None
        for seg_id, values in new.items():
            if old.get(seg_id) is None:
                cur = db.execute(
                    f"INSERT INTO search_segments (interview_id, case_id, segment_id, {', '.join(SEGMENT_COLUMNS)})"
                    f" VALUES ({','.join('?' * (3 + len(values)))})", (t.interview_id, t.case_id, seg_id, *values))
                _fts(db, "search_text", cur.lastrowid, values[4:])


def _index_meta(db: sqlite3.Connection, t: tr.Transcript, source: Path | None, signature: str | None) -> None:
    pattern = term_pattern(t.review.get("withheld_terms", []))
    fields = " \n".join([t.interview_id, t.case_id, *_field_values(t)])
    shown = [redact_text(str(t.interview[k]), pattern) for k in SHOWN_INTERVIEW_FIELDS
             if t.interview.get(k) not in (None, "")]
    pfields = " \n".join([t.interview_id, t.case_id, *shown])
    row = db.execute("SELECT * FROM search_interviews WHERE interview_id=?", (t.interview_id,)).fetchone()
    if row is not None:
        _fts(db, "search_meta", row["id"], (row["fields"], row["pfields"]), delete=True)
        db.execute("DELETE FROM search_interviews WHERE id=?", (row["id"],))
    cur = db.execute("INSERT INTO search_interviews (interview_id, case_id, source, signature, fields, pfields)"
                     " VALUES (?,?,?,?,?,?)", (t.interview_id, t.case_id, str(source) if source else None,
                                               signature, _nfc(fields), _nfc(pfields)))
    _fts(db, "search_meta", cur.lastrowid, (_nfc(fields), _nfc(pfields)))


def remove(db: sqlite3.Connection, interview_id: str) -> None:
    with _transaction(db):
        for row in db.execute("SELECT * FROM search_segments WHERE interview_id=?", (interview_id,)).fetchall():
            _fts(db, "search_text", row["id"], tuple(row[c] for c in INDEXED), delete=True)
        db.execute("DELETE FROM search_segments WHERE interview_id=?", (interview_id,))
        row = db.execute("SELECT * FROM search_interviews WHERE interview_id=?", (interview_id,)).fetchone()
        if row is not None:
            _fts(db, "search_meta", row["id"], (row["fields"], row["pfields"]), delete=True)
            db.execute("DELETE FROM search_interviews WHERE id=?", (row["id"],))


def index_folder(db: sqlite3.Connection, folder: Path) -> None:
    """(Re-)index the interview in an outbox folder from the version people see (reviewed, else machine)."""
    source = _current_file(folder)
    signature = _signature(source)
    t = tr.load(source)
    index_transcript(db, t, source)
    if signature != _signature(source):  # changed while we read it: read it again next time
        db.execute("UPDATE search_interviews SET signature=NULL WHERE interview_id=?", (t.interview_id,))


def update(database: Path, folder: Path) -> None:
    """The hook for writers of outbox files: never fails their work; a stale index heals at search time."""
    try:
        db = connect(database)
        try:
            index_folder(db, folder)
        finally:
            db.close()
    except (sqlite3.Error, OSError, tr.TranscriptError) as exc:
        log.warning("search index not updated for %s (%s); `testimony search --reindex` rebuilds it",
                    folder, type(exc).__name__)


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


# Queries --------------------------------------------------------------------------------

_TOKEN = re.compile(r'"[^"]*"\*?|[()]|,|[^\s"(),]+|"')
_BAREWORD = re.compile(r"^[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]+$")  # FTS5 bareword: letters, digits, _
SYNTAX_HELP = ('use words, "a phrase" in double quotes, word* for words that begin so, '
               "AND, OR, NOT, and NEAR(word word)")


def fts_query(query: str) -> str:
    """The user's query, folded and checked, as FTS5 syntax; raises QueryError with what to fix.

    Words with punctuation (a case ID such as KZ-2024-001) become phrases, so they need no
    quoting; quotes and brackets must pair up, so a query cannot reach outside its column filter.
    """
    folded = fold(query).strip()
    if not folded:
        raise QueryError(f"nothing to search for: {SYNTAX_HELP}")
    if folded.count('"') % 2:
        raise QueryError("a double quote is not closed; put a phrase between two quotes, e.g. \"Құлжа қаласы\"")
    parts, depth = [], 0
    for token in _TOKEN.findall(folded):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(f"a bracket ) has no ( before it: {SYNTAX_HELP}")
        elif token.startswith("*") or "**" in token:
            raise QueryError(f"* must follow a word or a phrase, as in Құлжа* (words beginning Құлжа): {SYNTAX_HELP}")
        elif not token.startswith('"') and token not in ("AND", "OR", "NOT", "NEAR", ",") \
                and not _BAREWORD.match(token.rstrip("*")):
            star = "*" if token.endswith("*") else ""
            token = '"' + token.rstrip("*") + '"' + star
        parts.append(token)
    if depth:
        raise QueryError(f"a bracket ( is not closed: {SYNTAX_HELP}")
    expression = " ".join(parts)
    _check(expression)
    return expression


def _check(expression: str) -> None:
    """Let FTS5 parse the query against an empty table: any error there is the query's, not the database's."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute(f"CREATE VIRTUAL TABLE q USING fts5({', '.join(INDEXED)})")
        probe.execute("SELECT * FROM q WHERE q MATCH ?", (f"{{text english}} : ({expression})",)).fetchall()
    except sqlite3.OperationalError as exc:
        raise QueryError(f"the search could not be read ({str(exc).removeprefix('fts5: ')}): {SYNTAX_HELP}") from None
    finally:
        probe.close()


@dataclass
class Hit:
    interview_id: str
    case_id: str | None
    segment_id: int | None      # None: the interview's own fields matched (case, ID, sidecar)
    start: float | None
    end: float | None
    language: str | None
    speaker: str | None
    text: str | None
    english: str | None
    snippet: str                # with START/STOP around matched words
    score: float                # bm25: lower is better
    withheld: str | None = None  # for reviewers: "segment" or "term" where the press would not see it

    @property
    def link(self) -> str:
        page = f"/interviews/{quote(self.interview_id, safe='')}"
        return page if self.segment_id is None else f"{page}#segment-{self.segment_id}"

    def as_dict(self, marks: tuple[str, str] = ("**", "**")) -> dict:
        return {"interview": self.interview_id, "case": self.case_id, "segment": self.segment_id,
                "start": self.start, "end": self.end, "language": self.language, "speaker": self.speaker,
                "text": self.text, "english": self.english,
                "snippet": self.snippet.replace(START, marks[0]).replace(STOP, marks[1]),
                "withheld": self.withheld, "link": self.link}


@dataclass
class Results:
    hits: list[Hit]
    more: bool  # more than CAP segments matched: the hits are the best of the newest CAP


def search(db: sqlite3.Connection, query: str, *, role: str = "reviewer", case: str | None = None,
           language: str | None = None, limit: int = 50) -> Results:
    """Hits for ``query`` as ``role`` may see them, best first (interview fields first when they match)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if language not in (None, *LANGUAGES):
        raise QueryError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    expression = fts_query(query)
    ensure_schema(db)
    hits, more = _search(db, expression, role, case, language, limit)
    stale = _stale(db, {h.interview_id for h in hits})
    if stale:  # a file changed behind the index's back: re-read those, then answer afresh
        for interview_id, folder in stale:
            if (folder / tr.MACHINE_FILE).exists():
                index_folder(db, folder)
            else:
                remove(db, interview_id)
        hits, more = _search(db, expression, role, case, language, limit)
    return Results(hits, more)


def _stale(db: sqlite3.Connection, interview_ids: set[str]) -> list[tuple[str, Path]]:
    stale = []
    for interview_id in sorted(interview_ids):
        row = db.execute("SELECT source, signature FROM search_interviews WHERE interview_id=?",
                         (interview_id,)).fetchone()
        if row and row["source"]:
            source = Path(row["source"])
            current = _current_file(source.parent)
            if current != source or _signature(current) != row["signature"] or row["signature"] is None:
                stale.append((interview_id, source.parent))
    return stale


def _match(expression: str, press: bool, language: str | None) -> tuple[str, str, str]:
    """The MATCH for a role, and the column filters for the reviewers' copy and the redacted one.

    The press matches a row as reviewers see it only where nothing in it is hidden, else its
    redacted copy (empty for a withheld segment): one FTS5 expression, no join.
    """
    columns = {"en": "english", None: "text english speaker"}.get(language, "text speaker")
    public = " ".join("p" + c for c in columns.split())
    own, redacted = f"{{{columns}}} : ({expression})", f"{{{public}}} : ({expression})"
    return (f"(({own}) NOT hidden : hidden) OR ({redacted})" if press else own), own, redacted


def _search(db, expression: str, role: str, case: str | None, language: str | None,
            limit: int) -> tuple[list[Hit], bool]:
    press = role == "press"
    match, own, redacted = _match(expression, press, language)
    join, where, args = "", "", []
    if case or language in ("kk", "ky", "ru"):
        join = " JOIN search_segments s ON s.id=search_text.rowid"
        if case:
            where += " AND s.case_id=?"
            args.append(case)
        if language in ("kk", "ky", "ru"):
            where += " AND s.language=?"
            args.append(language)
    base = f"FROM search_text{join} WHERE search_text MATCH ?{where}"
    # One pass, newest first, stopping after CAP + 1 matches: bm25 for those only, ranked here.
    newest = db.execute(f"SELECT search_text.rowid AS id, search_text.rank AS score {base}"
                        f" ORDER BY search_text.rowid DESC LIMIT ?", [match, *args, CAP + 1]).fetchall()
    ranked = sorted(newest[:CAP], key=lambda r: r["score"])[:limit]
    hits = _segment_hits(db, [r["id"] for r in ranked], {r["id"]: r["score"] for r in ranked}, own, redacted,
                         press)
    if language is None:
        hits = _interview_hits(db, expression, press, case) + hits
    return hits, len(newest) > CAP


def _segment_hits(db, ids: list[int], scores: dict, own: str, redacted: str, press: bool) -> list[Hit]:
    """Snippets for the chosen rows only; for the press, from the redacted copy where something is hidden.

    snippet() is asked for inside one rowid range: ``rowid IN (...)`` would make FTS5 set the
    query up again for every ID (for a prefix, merging every matching word's list each time).
    """
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in db.execute(f"SELECT * FROM search_segments WHERE id IN ({marks})", ids)}
    hidden = {i for i in ids if rows[i]["ptext"] is not None}
    snips = {}
    for match, chosen in ((own, [i for i in ids if not press or i not in hidden]),
                          (redacted, [i for i in ids if press and i in hidden])):
        if chosen:
            wanted = ",".join("?" * len(chosen))
            snips.update((rowid, snip) for rowid, snip in db.execute(
                f"SELECT rowid, CASE WHEN rowid IN ({wanted}) THEN snippet(search_text, -1, '{START}', '{STOP}',"
                f" '…', {SNIPPET_TOKENS}) END FROM search_text WHERE search_text MATCH ? AND rowid BETWEEN ? AND ?",
                [*chosen, match, min(chosen), max(chosen)]) if snip is not None)
    hits = []
    for row_id in ids:
        r = rows[row_id]
        if press and row_id in hidden:
            text, english, speaker = r["ptext"], r["penglish"], r["pspeaker"]
        else:
            text, english, speaker = r["text"], r["english"], r["speaker"]
        withheld = None if press else ("segment" if r["withheld"] else "term" if row_id in hidden else None)
        hits.append(Hit(r["interview_id"], r["case_id"], r["segment_id"], r["start"], r["end"], r["language"],
                        speaker, text, english, snips[row_id], scores[row_id], withheld))
    return hits


def _interview_hits(db, expression: str, press: bool, case: str | None) -> list[Hit]:
    column = "pfields" if press else "fields"
    sql = (f"SELECT i.*, search_meta.rank AS score, snippet(search_meta, -1, '{START}', '{STOP}', '…', "
           f"{SNIPPET_TOKENS}) AS snip FROM search_meta JOIN search_interviews i ON i.id=search_meta.rowid"
           f" WHERE search_meta MATCH ?" + (" AND i.case_id=?" if case else "") + " ORDER BY score LIMIT 20")
    rows = db.execute(sql, [f"{{{column}}} : ({expression})", *([case] if case else [])]).fetchall()
    return [Hit(r["interview_id"], r["case_id"], None, None, None, None, None, None, None,
                " ".join(r["snip"].split()), r["score"]) for r in rows]


def grouped(hits: list[Hit]) -> list[tuple[str, list[Hit]]]:
    """Hits by interview: the interview with the best hit first; within one, its fields, then by time."""
    groups: dict[str, list[Hit]] = {}
    for hit in sorted(hits, key=lambda h: h.score):
        groups.setdefault(hit.interview_id, []).append(hit)
    return [(iid, sorted(group, key=lambda h: (h.segment_id is not None, h.start or 0.0)))
            for iid, group in groups.items()]


def stats(db: sqlite3.Connection) -> dict:
    ensure_schema(db)
    return {"interviews": db.execute("SELECT COUNT(*) FROM search_interviews").fetchone()[0],
            "segments": db.execute("SELECT COUNT(*) FROM search_segments").fetchone()[0]}
