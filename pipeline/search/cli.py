"""`testimony search`: argument parsing and printing; matching and the index are in __init__.py.

The query is never logged: a search can name a person at risk. The log gets counts only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Optional

import typer

from .. import search
from ..console import die, load_settings
from ..outbox import output_dir
from ..store import Store
from ..transcript import timestamp

log = logging.getLogger(__name__)


def search_cmd(
    query: Optional[str] = typer.Argument(
        None,
        help='Words; "a phrase" in quotes; word* for words that begin so (Құлжа* finds Құлжадан); '
        "AND, OR, NOT, NEAR(a b). Case, ё/е and Kazakh/Kyrgyz letters or their Russian-keyboard "
        "stand-ins (қ/к, ә/а, і/и, ...) all match.",
    ),
    case: Optional[str] = typer.Option(None, "--case", "-c", help="Only this case ID."),
    language: Optional[str] = typer.Option(
        None, "--language", "-l", help="kk, ky or ru: segments spoken in it; en: the English only."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Hits as JSON: interview, segment, start, end, text, English, snippet.",
    ),
    role: str = typer.Option(
        "reviewer",
        "--as",
        help="Whose view: reviewer (withheld text shown, marked) "
        "or press (withheld text never shown).",
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many segments."),
    reindex: bool = typer.Option(
        False, "--reindex", help="Rebuild the search index from every interview."
    ),
):
    """Search every interview's words, English, speakers, case and interview IDs and sidecar fields."""
    settings = load_settings()
    store = Store(settings.database)
    db = search.connect(settings.database)
    try:
        if reindex:
            folders = [output_dir(settings, j) for j in store.jobs("done") if j.case_id]
            count = search.reindex(db, folders)
            counts = search.stats(db)
            log.info(
                "search index rebuilt: %d interviews, %d segments",
                counts["interviews"],
                counts["segments"],
            )
            typer.echo(f"search index rebuilt: {count} interviews, {counts['segments']} segments")
            if query is None:
                return
        if query is None:
            die(
                'say what to search for, e.g. testimony search "Құлжа*"; or --reindex to rebuild the index'
            )
        if role not in ("reviewer", "press"):
            die(f"--as {role!r}: say reviewer or press")
        try:
            results = search.search(db, query, role=role, case=case, language=language, limit=limit)
        except search.QueryError as exc:
            die(str(exc))
        hits = results.hits
        log.info("search: %d hit(s)", len(hits))  # counts only, never the query
        empty = not hits and search.stats(db)["segments"] == 0
    finally:
        db.close()
        store.close()
    if as_json:
        typer.echo(json.dumps([h.as_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        typer.echo(
            "no hits" + ("; the index is empty: run `testimony search --reindex`" if empty else "")
        )
        return
    for interview_id, group in search.grouped(hits):
        typer.secho(
            f"{group[0].case_id} / {interview_id}  ({len(group)} hit{'s' * (len(group) != 1)})",
            bold=True,
        )
        for hit in group:
            typer.echo(_line(hit))
    if results.more:
        typer.echo(
            f"more than {search.CAP:,} segments match: these are the best of the newest {search.CAP:,}; "
            f"add words, a phrase or --case to narrow the search"
        )


def _line(hit: search.Hit) -> str:
    shown = re.sub(
        f"{search.START}(.*?){search.STOP}",
        lambda m: typer.style(f"*{m[1]}*", bold=True),
        " ".join(hit.snippet.split()),
    )
    mark = {"segment": " [withheld segment]", "term": " [has a withheld term]"}.get(
        hit.withheld or "", ""
    )
    if hit.segment_id is None:
        return f"  interview fields: {shown}\n  {'':8}  {hit.link}"
    return (
        f"  {timestamp(hit.start or 0.0)[:-4]}  {hit.speaker or '-':<10} {shown}{mark}\n"
        f"  {'':8}  {hit.link}"
    )


def register(app: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app.command("search", rich_help_panel=panel)(search_cmd)
