"""``testimony verify`` and ``testimony custody``: the chain of custody, checked and read.

Kept apart from :mod:`pipeline.cli` as the packages keep theirs (``register(app, panel)``).
"""

from __future__ import annotations

import json
from typing import Optional

import typer

from . import custody
from .console import die, load_settings
from .store import Store


def register(app: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app.command(rich_help_panel=panel)(verify)
    app.command("custody", rich_help_panel=panel)(custody_cmd)


def verify(
    case: Optional[str] = typer.Argument(None, help="Only this case (default: everything)."),
):
    """Re-hash every original and exported file against the custody log, and check the log's chain."""
    settings = load_settings()
    store = Store(settings.database)
    findings = custody.verify(store, case)
    store.close()
    for f in findings:
        mark = "ok  " if f.ok else "FAIL"
        typer.secho(f"{mark} {f.subject}: {f.detail}", fg=None if f.ok else typer.colors.RED)
    bad = [f for f in findings if not f.ok]
    unchecked = sum(f.unchecked for f in findings)
    typer.echo(
        f"{len(findings) - len(bad) - unchecked} intact, {len(bad)} not"
        + (f", {unchecked} not checked (replaced, or not here)" if unchecked else "")
    )
    if bad:
        raise typer.Exit(1)


def custody_cmd(
    interview: str = typer.Argument(..., help="Interview ID (or original file name)."),
    as_json: bool = typer.Option(False, "--json"),
):
    """The chain of custody of one interview, in plain language or as JSON."""
    settings = load_settings()
    store = Store(settings.database)
    try:
        entries = custody.history(store, interview)
    except KeyError:
        die(f"no interview {interview!r}; `testimony status` lists them")
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    for e in entries:
        typer.echo(f"{e['at']}  {e['text']}  [#{e['id']} {e['hash'][:12]}]")
