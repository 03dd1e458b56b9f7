"""``testimony worker``, and the cluster lines of ``process``, ``watch`` and ``status``.

Kept apart from :mod:`pipeline.cli` so that the single-machine commands never import Celery.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

import typer

from .. import config
from ..console import die, load_settings, missing_extra, require_extra
from . import NEEDS


def require() -> None:
    """Stop with what to install when the cluster's packages are not installed."""
    require_extra("cluster", *NEEDS)


def preflight(settings: config.Settings) -> None:
    """With a broker set, reach it now: a wrong password or address stops the command with one line."""
    if not settings.broker:
        return
    require()
    from . import broker

    try:
        broker.preflight(settings.broker)
    except broker.BrokerError as exc:
        die(str(exc))
    typer.echo(f"coordinating: pieces go to workers through {broker.shown(settings.broker)}")


def show_status(settings: config.Settings, waiting: bool) -> None:
    """Connected workers and the pieces out; ``waiting``: some job is transcribing."""
    if not settings.broker:
        return
    if (message := missing_extra("cluster", *NEEDS)) is not None:
        typer.secho(f"cluster: {message}", fg=typer.colors.RED)
        return
    from . import broker

    try:
        broker.preflight(settings.broker)
        broker.configure(settings.broker, settings.visibility_timeout)
        nodes = broker.workers()
        running, queued = broker.pieces_out()
    except broker.BrokerError as exc:
        typer.secho(f"cluster: {exc}", fg=typer.colors.RED)
        return
    typer.secho(
        f"cluster ({broker.shown(settings.broker)}): {len(nodes)} worker(s) connected", bold=True
    )
    for node, queues in sorted(nodes.items()):
        doing = ", ".join(running.get(node, [])) or "idle"
        models = ", ".join(q.removeprefix("asr-")[:12] for q in queues)
        typer.echo(f"  {node:<40} models {models}; {doing}")
    for queue, count in sorted(queued.items()):
        if count:
            typer.echo(f"  {count} piece(s) queued for model {queue.removeprefix('asr-')[:12]}")
    if waiting and not nodes:
        typer.echo(
            "  waiting for a worker: start `testimony worker` on a machine that has the models"
        )


def register(app: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app.command("worker", rich_help_panel=panel)(worker)


def worker(
    broker: Optional[str] = typer.Option(
        None,
        "--broker",
        help="redis://:PASSWORD@HOST:6379/0 (default: TESTIMONY_BROKER, else [cluster] broker).",
    ),
    device: str = typer.Option(
        "auto", "--device", help="auto (cuda when torch sees a GPU), cpu or cuda."
    ),
    concurrency: int = typer.Option(
        1, "--concurrency", "-c", help="Pieces decoded at once (one process each)."
    ),
    threads: int = typer.Option(
        0,
        "--threads",
        help="CPU threads per piece (default: "
        "\\[asr] threads, else the cores shared out "
        "between the processes).",
    ),
    name: Optional[str] = typer.Option(
        None, "--name", help="Node name (default: testimony-PID@HOST)."
    ),
):
    """Decode audio pieces sent by a coordinator, with the models under this home's models/."""
    require()
    from . import decoder
    from .broker import BrokerError, configure, preflight, shown

    settings = load_settings()
    url = broker or settings.broker
    if not url:
        die(
            "no broker: pass --broker redis://:PASSWORD@HOST:6379/0, set TESTIMONY_BROKER, "
            "or set [cluster] broker in testimony.toml"
        )
    try:
        preflight(url)
        picked = decoder.pick_device(device)
    except (BrokerError, ValueError) as exc:
        die(str(exc))
    held = decoder.inventory(settings)
    if not held:
        die(
            f"no Whisper models under {settings.models / 'whisper'}: copy the coordinator's models/ folder "
            f"here (or add them with `testimony models add`; `testimony models prepare` for the embedded base)"
        )
    settings = dataclasses.replace(settings, broker=url)
    per_piece = threads or settings.threads or max(1, (os.cpu_count() or 1) // max(concurrency, 1))
    typer.echo(
        f"worker on {shown(url)}, device {picked}, {concurrency} process(es) x {per_piece} thread(s)"
    )
    for sha, model in sorted(held.items(), key=lambda kv: kv[1].name):
        typer.echo(f"  serving {model.engine} model {model.name} (sha256 {sha})")
    typer.echo("pieces for other models are left for workers that hold them")
    configure(url, settings.visibility_timeout)
    decoder.serve(
        held,
        picked,
        per_piece,
        concurrency,
        name,
        settings.heartbeat_seconds,
        compute_type=settings.asr_compute_type,
    )
