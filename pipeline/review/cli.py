"""``testimony review``: serve the review page; ``testimony review import FILE``; ``testimony review file``.

Mounted by the main command with ``app.add_typer(review_app, name="review")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..console import die, load_settings
from ..outbox import REVIEW_FILE
from .edits import ReviewError, Reviews
from .accounts import Accounts
from .running import LOOPBACK, InsecureNetwork, make_server
from .textfile import import_review_file, write_review_file

app = typer.Typer(help="Review transcripts: a local web page, or a plain-text file in any editor.")


@app.callback(invoke_without_command=True)
def serve(ctx: typer.Context,
          host: str = typer.Option("127.0.0.1", help="Address to listen on. Anything but 127.0.0.1 lets other "
                                                     "machines reach the page, and then needs --tls-cert/--tls-key."),
          port: int = typer.Option(8765, help="Port to listen on (0: any free port)."),
          tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", help="TLS certificate (PEM): serve HTTPS."),
          tls_key: Optional[Path] = typer.Option(None, "--tls-key", help="The certificate's private key (PEM)."),
          insecure_http: bool = typer.Option(False, "--insecure-http",
                                             help="Serve plain HTTP beyond this machine (passwords in clear text).")):
    """Serve the review page until Ctrl-C; with no accounts, open the address it prints (it holds a secret token)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    for given in (tls_cert, tls_key):
        if given is not None and not given.is_file():
            die(f"{given}: no such file; see the README for making a self-signed certificate with openssl")
    if host not in LOOPBACK and not tls_cert:
        typer.secho(f"warning: {host} lets other machines on the network reach the review page, and without TLS "
                    f"its passwords and transcripts cross the network unencrypted", fg=typer.colors.YELLOW, err=True)
    try:
        server = make_server(settings, host, port, tls_cert=tls_cert, tls_key=tls_key, insecure_http=insecure_http)
    except InsecureNetwork as exc:
        die(str(exc))
    except OSError as exc:
        die(f"cannot listen on {host}:{port}: {exc.strerror}; choose another with --port")
    accounts = Accounts(settings)
    try:
        team = accounts.any()
    finally:
        accounts.close()
    if team:
        typer.echo(f"Review page for {settings.home}\n\n    {server.base}/\n\n"
                   f"Log in with a reviewer account (`testimony reviewers list`). Ctrl-C stops the server.")
    else:
        typer.echo(f"Review page for {settings.home}\n\n    {server.url}\n\n"
                   f"Open this address in a browser on this machine; keep it secret (it holds the access token). "
                   f"For a team, add accounts: testimony reviewers add NAME --role reviewer. Ctrl-C stops the server.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.sock.close()
    typer.echo("stopped")


@app.command("import")
def import_(file: Path = typer.Argument(..., help="A review.txt written by testimony and edited by hand."),
            reviewer: Optional[str] = typer.Option(None, help="Your name for the audit log "
                                                              "(default: your login name)")):
    """Check a review file and save its edits; a malformed or stale file is refused whole."""
    if not file.is_file():
        die(f"{file}: no such file")
    settings = load_settings()
    try:
        result = import_review_file(settings, file, reviewer)
    except ReviewError as exc:
        die(str(exc))
    changed = ", ".join(map(str, result.changed)) or "none"
    typer.echo(f"{result.interview_id}: saved changes to segment(s) {changed}; "
               f"{result.unchanged} segment(s) unchanged")


@app.command("file")
def file_(interviews: List[str] = typer.Argument(..., help="Interview IDs.")):
    """Write review.txt into an interview's outbox folder, to correct it in a text editor."""
    settings = load_settings()
    reviews = Reviews(settings)
    try:
        for interview_id in interviews:
            interview = reviews.find(interview_id)
            path = interview.out_dir / REVIEW_FILE
            if write_review_file(reviews, interview):
                typer.echo(f"{path}")
            else:
                typer.echo(f"{path} has edits not imported yet; left as it is. "
                           f"Run: testimony review import {path}")
    except ReviewError as exc:
        die(str(exc))
    finally:
        reviews.close()
