"""``testimony review``: serve the review page; ``review import FILE``; ``review file``; and
``testimony reviewers``: the team's accounts on the review page (add, list, disable, enable,
passwd).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..console import die, load_settings
from ..outbox import REVIEW_FILE
from .accounts import ROLES, AccountError, Accounts, locked_until_text
from .changes import ReviewError
from .edits import Reviews
from .textfile import import_review_file, write_review_file

app = typer.Typer(help="Review transcripts: a local web page, or a plain-text file in any editor.")


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1",
        help="Address to listen on. Anything but 127.0.0.1 lets other "
        "machines reach the page, and then needs --tls-cert/--tls-key.",
    ),
    port: int = typer.Option(8765, help="Port to listen on (0: any free port)."),
    tls_cert: Optional[Path] = typer.Option(
        None, "--tls-cert", help="TLS certificate (PEM): serve HTTPS."
    ),
    tls_key: Optional[Path] = typer.Option(
        None, "--tls-key", help="The certificate's private key (PEM)."
    ),
    insecure_http: bool = typer.Option(
        False,
        "--insecure-http",
        help="Serve plain HTTP beyond this machine (passwords in clear text).",
    ),
):
    """Serve the review page until Ctrl-C; with no accounts, open the address it prints (it holds a secret token)."""
    if ctx.invoked_subcommand is not None:
        return
    # Here, not at the top: the web stack (and through the press pages, export's scipy) would
    # add seconds to every other `testimony` command's start.
    from .running import LOOPBACK, InsecureNetwork, TLSError, make_server

    settings = load_settings()
    for given in (tls_cert, tls_key):
        if given is not None and not given.is_file():
            die(
                f"{given}: no such file; docs/operations/tls.md makes a self-signed certificate "
                f"with openssl"
            )
    if host not in LOOPBACK and not tls_cert:
        typer.secho(
            f"warning: {host} lets other machines on the network reach the review page, and without TLS "
            f"its passwords and transcripts cross the network unencrypted",
            fg=typer.colors.YELLOW,
            err=True,
        )
    try:
        server = make_server(
            settings, host, port, tls_cert=tls_cert, tls_key=tls_key, insecure_http=insecure_http
        )
    except (InsecureNetwork, TLSError) as exc:
        die(str(exc))
    except OSError as exc:
        die(f"cannot listen on {host}:{port}: {exc.strerror}; choose another with --port")
    accounts = Accounts(settings)
    try:
        team = accounts.any()
    finally:
        accounts.close()
    if team:
        typer.echo(
            f"Review page for {settings.home}\n\n    {server.base}/\n\n"
            f"Log in with a reviewer account (`testimony reviewers list`). Ctrl-C stops the server."
        )
    else:
        typer.echo(
            f"Review page for {settings.home}\n\n    {server.url}\n\n"
            f"Open this address in a browser on this machine; keep it secret (it holds the access token). "
            f"For a team, add accounts: testimony reviewers add NAME --role reviewer. Ctrl-C stops the server."
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.sock.close()
    typer.echo("stopped")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A review.txt written by testimony and edited by hand."),
    reviewer: Optional[str] = typer.Option(
        None, help="Your name for the audit log (default: your login name)"
    ),
):
    """Check a review file and save its edits; a malformed or stale file is refused whole."""
    if not file.is_file():
        die(f"{file}: no such file")
    settings = load_settings()
    try:
        result = import_review_file(settings, file, reviewer)
    except ReviewError as exc:
        die(str(exc))
    changed = ", ".join(map(str, result.changed)) or "none"
    typer.echo(
        f"{result.interview_id}: saved changes to segment(s) {changed}; "
        f"{result.unchanged} segment(s) unchanged"
    )


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
                typer.echo(
                    f"{path} has edits not imported yet; left as it is. "
                    f"Run: testimony review import {path}"
                )
    except ReviewError as exc:
        die(str(exc))
    finally:
        reviews.close()


# Accounts ------------------------------------------------------------------------------

reviewers_app = typer.Typer(
    help="Accounts for the review page: each reviewer logs in with their own name and password.",
    no_args_is_help=True,
)

StdinOpt = typer.Option(
    False,
    "--password-stdin",
    help="Read the password from the first line of stdin "
    "(for scripts; keeps it out of the shell history).",
)


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            die("--password-stdin: stdin held no password line")
        return password
    return typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


def _accounts() -> Accounts:
    return Accounts(load_settings())


@reviewers_app.command()
def add(
    name: str = typer.Argument(..., help="The name shown in the audit log."),
    role: str = typer.Option(
        "reviewer",
        help=f"One of {', '.join(ROLES)}: a reviewer edits and marks "
        f"segments reviewed; press also withholds names and exports; "
        f"admin also manages accounts.",
    ),
    password_stdin: bool = StdinOpt,
):
    """Add an account; it asks for the password (twice), or reads it with --password-stdin."""
    if role not in ROLES:
        die(f"role {role!r} is not one of {', '.join(ROLES)}")
    accounts = _accounts()
    try:
        if accounts.get(name.strip()) is not None:
            die(
                f"account {name!r} exists already; change its password with `testimony reviewers passwd {name}`"
            )
        accounts.add(name, role, _password(name, password_stdin))
    except AccountError as exc:
        die(str(exc))
    finally:
        accounts.close()
    typer.echo(f"added {name} ({role})")


@reviewers_app.command("list")
def list_():
    """Every account with its role and state."""
    accounts = _accounts()
    try:
        rows = accounts.list()
    finally:
        accounts.close()
    if not rows:
        typer.echo(
            "no accounts: the review page runs in single-token mode (one person on this machine)"
        )
        return
    width = max(len(a.name) for a in rows)
    for a in rows:
        state = "active" if a.active else "disabled"
        if a.locked_until:
            state += f", locked until {locked_until_text(a.locked_until)} UTC (or a new password)"
        typer.echo(f"{a.name:<{width}}  {a.role:<8}  {state}")


def _set_active(name: str, active: bool) -> None:
    accounts = _accounts()
    try:
        accounts.set_active(name, active)
    except AccountError as exc:
        die(str(exc))
    finally:
        accounts.close()


@reviewers_app.command()
def disable(name: str):
    """Disable an account; its open sessions end at once. The audit log keeps its name."""
    _set_active(name, False)
    typer.echo(f"disabled {name}; their sessions are ended")


@reviewers_app.command()
def enable(name: str):
    """Enable a disabled account again."""
    _set_active(name, True)
    typer.echo(f"enabled {name}")


@reviewers_app.command()
def passwd(name: str, password_stdin: bool = StdinOpt):
    """Set a new password (this also unlocks the account and ends its sessions)."""
    accounts = _accounts()
    try:
        if accounts.get(name) is None:
            die(f"no account named {name!r}; `testimony reviewers list` shows them")
        accounts.set_password(name, _password(name, password_stdin))
    except AccountError as exc:
        die(str(exc))
    finally:
        accounts.close()
    typer.echo(f"password changed for {name}; their sessions are ended")


def register(app_: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app_.add_typer(app, name="review", rich_help_panel=panel)
    app_.add_typer(reviewers_app, name="reviewers", rich_help_panel=panel)
