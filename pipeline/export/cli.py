"""`testimony export`, `withhold`, `keys init|show` and `verify-packet`: argument parsing and
messages; the work is in core, signing and verify_packet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..console import Bar, die, load_settings
from ..store import Store
from . import signing, verify_packet
from .documents import ExportError


def _progress(interview_id: str):
    """Video encoding progress, shown the way the pipeline shows its own."""
    bar = Bar()
    return lambda label, fraction: bar.show(interview_id, label, fraction)


def export(
    target: str = typer.Argument(
        ..., help="Interview ID, or a case ID to export all its interviews."
    ),
    formats: Optional[str] = typer.Option(
        None,
        "--format",
        "-f",
        help="Comma-separated: docx,pdf,srt,vtt,mp4 (soft subtitles),burned (subtitles in the picture),"
        "packet (zip of the others with manifest and README), or all. Default: docx,pdf,srt,vtt,packet.",
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Folder for the files (default: outbox/CASE/INTERVIEW/export/)."
    ),
    bilingual: bool = typer.Option(
        False, "--bilingual", help="Two-column original | English table in DOCX and PDF."
    ),
    allow_unreviewed: bool = typer.Option(
        False,
        "--allow-unreviewed",
        help='Export before review, marked "unreviewed machine translation".',
    ),
    protections: Optional[str] = typer.Option(
        None,
        "--protect",
        help="Protect the witness in the videos: names (withheld names muted where spoken), "
        "voice (voices disguised), faces (faces blurred), comma-separated, or all. An "
        "interview whose sidecar says protect = [...] is exported as video only with those.",
    ),
):
    """English transcript (DOCX, PDF), subtitles, subtitled video and a press packet, with withheld names removed."""
    # Here, not at the top: they bring scipy and fpdf, seconds that every other `testimony`
    # command (a worker, a watcher, status) would pay at each start.
    from . import core, protect

    settings = load_settings()
    store = Store(settings.database)
    try:
        chosen = core.parse_formats(formats)
        wanted = protect.parse(protections)
        items = core.find(settings, store, target)
        core.check(items, allow_unreviewed, chosen, wanted)
        for item in items:
            # A case's interviews each get their own folder under --out.
            folder = out / item.job.interview_id if out and target != item.job.interview_id else out
            result = core.export(
                settings,
                store,
                item,
                chosen,
                folder,
                bilingual,
                _progress(item.job.interview_id),
                wanted,
            )
            for notice in result.notices:
                typer.secho(notice, fg=typer.colors.YELLOW, err=True)
            typer.echo(f"{item.job.interview_id}: {len(result.files)} file(s) -> {result.folder}")
            for name in result.files:
                typer.echo(f"  {name}")
    except ExportError as exc:
        die(str(exc))
    finally:
        store.close()


def withhold(
    target: str = typer.Argument(
        ..., help="Interview ID, or a case ID (terms then apply to all its interviews)."
    ),
    terms: Optional[List[str]] = typer.Argument(
        None,
        help='Names, places or numbers to replace with "\\[name withheld]" in every export '
        '(a term also hides its endings: Ерлан hides Ерланның). "-" reads them from stdin, '
        "one a line, so they stay out of the shell history.",
    ),
    segments: Optional[List[int]] = typer.Option(
        None, "--segment", "-s", help="Segment ID to withhold whole (text removed, audio muted)."
    ),
):
    """Withhold names or whole segments from every export (saved in reviewed.json; the original is untouched)."""
    words = list(terms or [])
    if "-" in words:
        words = [w for w in words if w != "-"] + sys.stdin.read().splitlines()
    if not any(w.strip() for w in words) and not segments:
        die("give the terms to withhold, or --segment ID")
    from . import core  # see export()

    settings = load_settings()
    store = Store(settings.database)
    try:
        for line in core.withhold(settings, store, target, words, list(segments or [])):
            typer.echo(line)
    except ExportError as exc:
        die(str(exc))
    finally:
        store.close()


# Keys and packets ----------------------------------------------------------------------

keys_app = typer.Typer(
    help="The organisation's signing key for press packets and videos.", no_args_is_help=True
)


@keys_app.command("init")
def init(
    org: str = typer.Option(
        ...,
        "--org",
        help="Short name newsrooms will know you by, no spaces (e.g. press@example.org).",
    ),
):
    """Make the organisation's Ed25519 signing key under the home folder (private key: owner only)."""
    settings = load_settings()
    try:
        key = signing.init(settings.home, org)
    except signing.SigningError as exc:
        die(str(exc))
    typer.echo(
        f"organisation key made in {key.folder} (the private key never leaves it: back it up offline)"
    )
    typer.echo(
        f"publish this, so newsrooms can check your packets:\n{key.public_line}\n{key.fingerprint}"
    )


@keys_app.command("show")
def show():
    """Print the public key as one OpenSSH line, and its fingerprint, for the organisation to publish."""
    settings = load_settings()
    try:
        key = signing.load(settings.home)
    except signing.SigningError as exc:
        die(str(exc))
    typer.echo(key.public_line)
    typer.echo(key.fingerprint)


def verify_packet_cmd(
    packet: Path = typer.Argument(..., help="The press packet zip."),
    key: Optional[str] = typer.Option(
        None,
        "--key",
        help="The organisation's published public key: a file "
        "or the line `ssh-ed25519 AAAA... org`.",
    ),
):
    """Check a press packet's signature, every file's hash and the videos' Content Credentials."""
    if not packet.is_file():
        die(f"{packet}: no such file; give the path of the .press-packet.zip")
    try:
        line = verify_packet.read_key(key) if key else None
        checks = verify_packet.verify(packet, line)
    except verify_packet.PacketError as exc:
        die(str(exc))
    for c in checks:
        typer.secho(
            f"{'ok  ' if c.ok else 'FAIL'} {c.subject}: {c.detail}",
            fg=None if c.ok else typer.colors.RED,
        )
    bad = [c for c in checks if not c.ok]
    typer.echo(
        f"{packet.name}: " + ("everything checks out" if not bad else f"{len(bad)} problem(s)")
    )
    if not key and not bad:
        typer.echo(
            "the key was taken from the packet itself: pass --key with the organisation's published key"
        )
    if bad:
        raise typer.Exit(1)


def register(app: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app.command("export", rich_help_panel=panel)(export)
    app.command("withhold", rich_help_panel=panel)(withhold)
    app.command("verify-packet", rich_help_panel=panel)(verify_packet_cmd)
    app.add_typer(keys_app, name="keys", rich_help_panel=panel)
