"""Searching the index: a user's query checked and folded, ranked hits as a role may see them.

See :mod:`pipeline.search` for how text is folded and how withheld text is kept from the press.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from .. import transcript as tr
from ..folding import fold
from .index import INDEXED, current_file, ensure_schema, file_signature, index_folder, remove

ROLES = ("reviewer", "press", "admin")
LANGUAGES = ("kk", "ky", "ru", "en")
START, STOP = "\x02", "\x03"  # highlight marks inside snippets; renderers replace them
SNIPPET_TOKENS = 16

# Matches ranked at most; a query with more ranks the newest CAP (a bounded time, and the
# hint to narrow it). Every match of a rarer query is ranked.
CAP = 5_000


class QueryError(ValueError):
    """A search that FTS5 cannot read; the message says how to write it."""


_TOKEN = re.compile(r'"[^"]*"\*?|[()]|,|[^\s"(),]+|"')
_BAREWORD = re.compile(
    r"^[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]+$"
)  # FTS5 bareword: letters, digits, _
SYNTAX_HELP = (
    'use words, "a phrase" in double quotes, word* for words that begin so, '
    "AND, OR, NOT, and NEAR(word word)"
)


def fts_query(query: str) -> str:
    """The user's query, folded and checked, as FTS5 syntax; raises QueryError with what to fix.

    Words with punctuation (a case ID such as KZ-2024-001) become phrases, so they need no
    quoting; quotes and brackets must pair up, so a query cannot reach outside its column filter.
    """
    folded = fold(query).strip()
    if not folded:
        raise QueryError(f"nothing to search for: {SYNTAX_HELP}")
    if folded.count('"') % 2:
        raise QueryError(
            'a double quote is not closed; put a phrase between two quotes, e.g. "Құлжа қаласы"'
        )
    parts, depth = [], 0
    for token in _TOKEN.findall(folded):
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise QueryError(f"a bracket ) has no ( before it: {SYNTAX_HELP}")
        elif token.startswith("*") or "**" in token:
            raise QueryError(
                f"* must follow a word or a phrase, as in Құлжа* (words beginning Құлжа): {SYNTAX_HELP}"
            )
        elif (
            not token.startswith('"')
            and token not in ("AND", "OR", "NOT", "NEAR", ",")
            and not _BAREWORD.match(token.rstrip("*"))
        ):
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
        probe.execute(
            "SELECT * FROM q WHERE q MATCH ?", (f"{{text english}} : ({expression})",)
        ).fetchall()
    except sqlite3.OperationalError as exc:
        raise QueryError(
            f"the search could not be read ({str(exc).removeprefix('fts5: ')}): {SYNTAX_HELP}"
        ) from None
    finally:
        probe.close()


@dataclass
class Hit:
    interview_id: str
    case_id: str | None
    segment_id: int | None  # None: the interview's own fields matched (case, ID, sidecar)
    start: float | None
    end: float | None
    language: str | None
    speaker: str | None
    text: str | None
    english: str | None
    snippet: str  # with START/STOP around matched words
    score: float  # bm25: lower is better
    withheld: str | None = (
        None  # for reviewers: "segment" or "term" where the press would not see it
    )

    @property
    def link(self) -> str:
        page = f"/interviews/{quote(self.interview_id, safe='')}"
        return page if self.segment_id is None else f"{page}#segment-{self.segment_id}"

    def as_dict(self, marks: tuple[str, str] = ("**", "**")) -> dict:
        return {
            "interview": self.interview_id,
            "case": self.case_id,
            "segment": self.segment_id,
            "start": self.start,
            "end": self.end,
            "language": self.language,
            "speaker": self.speaker,
            "text": self.text,
            "english": self.english,
            "snippet": self.snippet.replace(START, marks[0]).replace(STOP, marks[1]),
            "withheld": self.withheld,
            "link": self.link,
        }


@dataclass
class Results:
    hits: list[Hit]
    more: bool  # more than CAP segments matched: the hits are the best of the newest CAP


def search(
    db: sqlite3.Connection,
    query: str,
    *,
    role: str = "reviewer",
    case: str | None = None,
    language: str | None = None,
    limit: int = 50,
) -> Results:
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
        row = db.execute(
            "SELECT source, signature FROM search_interviews WHERE interview_id=?", (interview_id,)
        ).fetchone()
        if row and row["source"]:
            source = Path(row["source"])
            current = current_file(source.parent)
            if (
                current != source
                or file_signature(current) != row["signature"]
                or row["signature"] is None
            ):
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


def _search(
    db, expression: str, role: str, case: str | None, language: str | None, limit: int
) -> tuple[list[Hit], bool]:
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
    newest = db.execute(
        f"SELECT search_text.rowid AS id, search_text.rank AS score {base}"
        f" ORDER BY search_text.rowid DESC LIMIT ?",
        [match, *args, CAP + 1],
    ).fetchall()
    ranked = sorted(newest[:CAP], key=lambda r: r["score"])[:limit]
    hits = _segment_hits(
        db, [r["id"] for r in ranked], {r["id"]: r["score"] for r in ranked}, own, redacted, press
    )
    if language is None:
        hits = _interview_hits(db, expression, press, case) + hits
    return hits, len(newest) > CAP


def _segment_hits(
    db, ids: list[int], scores: dict, own: str, redacted: str, press: bool
) -> list[Hit]:
    """Snippets for the chosen rows only; for the press, from the redacted copy where something is hidden.

    snippet() is asked for inside one rowid range: ``rowid IN (...)`` would make FTS5 set the
    query up again for every ID (for a prefix, merging every matching word's list each time).
    """
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = {
        r["id"]: r for r in db.execute(f"SELECT * FROM search_segments WHERE id IN ({marks})", ids)
    }
    hidden = {i for i in ids if rows[i]["ptext"] is not None}
    snips = {}
    for match, chosen in (
        (own, [i for i in ids if not press or i not in hidden]),
        (redacted, [i for i in ids if press and i in hidden]),
    ):
        if chosen:
            wanted = ",".join("?" * len(chosen))
            snips.update(
                (rowid, snip)
                for rowid, snip in db.execute(
                    f"SELECT rowid, CASE WHEN rowid IN ({wanted}) THEN snippet(search_text, -1, '{START}', '{STOP}',"
                    f" '…', {SNIPPET_TOKENS}) END FROM search_text WHERE search_text MATCH ? AND rowid BETWEEN ? AND ?",
                    [*chosen, match, min(chosen), max(chosen)],
                )
                if snip is not None
            )
    hits = []
    for row_id in ids:
        r = rows[row_id]
        if press and row_id in hidden:
            text, english, speaker = r["ptext"], r["penglish"], r["pspeaker"]
        else:
            text, english, speaker = r["text"], r["english"], r["speaker"]
        withheld = (
            None
            if press
            else ("segment" if r["withheld"] else "term" if row_id in hidden else None)
        )
        hits.append(
            Hit(
                r["interview_id"],
                r["case_id"],
                r["segment_id"],
                r["start"],
                r["end"],
                r["language"],
                speaker,
                text,
                english,
                snips[row_id],
                scores[row_id],
                withheld,
            )
        )
    return hits


def _interview_hits(db, expression: str, press: bool, case: str | None) -> list[Hit]:
    column = "pfields" if press else "fields"
    sql = (
        f"SELECT i.*, search_meta.rank AS score, snippet(search_meta, -1, '{START}', '{STOP}', '…', "
        f"{SNIPPET_TOKENS}) AS snip FROM search_meta JOIN search_interviews i ON i.id=search_meta.rowid"
        f" WHERE search_meta MATCH ?"
        + (" AND i.case_id=?" if case else "")
        + " ORDER BY score LIMIT 20"
    )
    rows = db.execute(sql, [f"{{{column}}} : ({expression})", *([case] if case else [])]).fetchall()
    return [
        Hit(
            r["interview_id"],
            r["case_id"],
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            " ".join(r["snip"].split()),
            r["score"],
        )
        for r in rows
    ]


def grouped(hits: list[Hit]) -> list[tuple[str, list[Hit]]]:
    """Hits by interview: the interview with the best hit first; within one, its fields, then by time."""
    groups: dict[str, list[Hit]] = {}
    for hit in sorted(hits, key=lambda h: h.score):
        groups.setdefault(hit.interview_id, []).append(hit)
    return [
        (iid, sorted(group, key=lambda h: (h.segment_id is not None, h.start or 0.0)))
        for iid, group in groups.items()
    ]
