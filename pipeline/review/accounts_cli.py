"""``testimony reviewers``: the team's accounts on the review page (add, list, disable, enable, passwd).

Mounted by the main command with ``app.add_typer(reviewers_app, name="reviewers")``.
"""

from __future__ import annotations

import sys

import typer

from ..console import die, load_settings
from .accounts import ROLES, AccountError, Accounts, locked_until_text

app = typer.Typer(help="Accounts for the review page: each reviewer logs in with their own name and password.",
                  no_args_is_help=True)

StdinOpt = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin "
                                                        "(for scripts; keeps it out of the shell history).")


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            die("--password-stdin: stdin held no password line")
        return password
    return typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)


def _accounts() -> Accounts:
    return Accounts(load_settings())


@app.command()
def add(name: str = typer.Argument(..., help="The name shown in the audit log."),
        role: str = typer.Option("reviewer", help=f"One of {', '.join(ROLES)}: a reviewer edits and marks "
                                                  f"segments reviewed; press also withholds names and exports; "
                                                  f"admin also manages accounts."),
        password_stdin: bool = StdinOpt):
    """Add an account; it asks for the password (twice), or reads it with --password-stdin."""
    if role not in ROLES:
        die(f"role {role!r} is not one of {', '.join(ROLES)}")
    accounts = _accounts()
    try:
        if accounts.get(name.strip()) is not None:
            die(f"account {name!r} exists already; change its password with `testimony reviewers passwd {name}`")
        accounts.add(name, role, _password(name, password_stdin))
    except AccountError as exc:
        die(str(exc))
    finally:
        accounts.close()
    typer.echo(f"added {name} ({role})")


@app.command("list")
def list_():
    """Every account with its role and state."""
    accounts = _accounts()
    try:
        rows = accounts.list()
    finally:
        accounts.close()
    if not rows:
        typer.echo("no accounts: the review page runs in single-token mode (one person on this machine)")
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


@app.command()
def disable(name: str):
    """Disable an account; its open sessions end at once. The audit log keeps its name."""
    _set_active(name, False)
    typer.echo(f"disabled {name}; their sessions are ended")


@app.command()
def enable(name: str):
    """Enable a disabled account again."""
    _set_active(name, True)
    typer.echo(f"enabled {name}")


@app.command()
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
