"""`testimony keys init|show` and `testimony verify-packet`: argument parsing and messages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..console import die, load_settings
from . import signing, verify_packet

keys_app = typer.Typer(help="The organisation's signing key for press packets and videos.", no_args_is_help=True)


@keys_app.command("init")
def init(org: str = typer.Option(..., "--org", help="Short name newsrooms will know you by, no spaces "
                                                    "(e.g. press@example.org).")):
    """Make the organisation's Ed25519 signing key under the home folder (private key: owner only)."""
    settings = load_settings()
    try:
        key = signing.init(settings.home, org)
    except signing.SigningError as exc:
        die(str(exc))
    typer.echo(f"organisation key made in {key.folder} (the private key never leaves it: back it up offline)")
    typer.echo(f"publish this, so newsrooms can check your packets:\n{key.public_line}\n{key.fingerprint}")


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
    key: Optional[str] = typer.Option(None, "--key", help="The organisation's published public key: a file "
                                                          "or the line `ssh-ed25519 AAAA... org`."),
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
        typer.secho(f"{'ok  ' if c.ok else 'FAIL'} {c.subject}: {c.detail}", fg=None if c.ok else typer.colors.RED)
    bad = [c for c in checks if not c.ok]
    typer.echo(f"{packet.name}: " + ("everything checks out" if not bad else f"{len(bad)} problem(s)"))
    if not key and not bad:
        typer.echo("the key was taken from the packet itself: pass --key with the organisation's published key")
    if bad:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the commands to the `testimony` app."""
    app.add_typer(keys_app, name="keys")
    app.command("verify-packet")(verify_packet_cmd)
