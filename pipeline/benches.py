"""The `testimony bench` commands in one place: bench.py's own and the witness-protection ones,
which use bench's runner and scoring (so bench.py cannot import them without a cycle)."""

from __future__ import annotations

import typer

from . import bench, bench_faces, bench_protect


def register(app: typer.Typer, panel: str) -> None:
    """Attach ``testimony bench ...`` to the `testimony` app, under ``panel`` in its help."""
    bench.bench_app.command("protect")(bench_protect.bench_protect)
    bench.bench_app.command("faces")(bench_faces.bench_faces)
    bench.register(app, panel)
