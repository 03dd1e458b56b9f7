"""``testimony models ...``: parses arguments and prints; the work is in the models package."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .. import config
from ..console import die, load_settings
from . import (
    EMBEDDED_NAME,
    SOURCE_FORMATS,
    ModelError,
    add_model,
    languages_label,
    list_models,
    resolve_whisper,
    whisper_dir,
)
from .bundle import bundle_installed
from .catalog import KNOWN
from .fetch import fetch
from .registry import use_model

app = typer.Typer(
    help="Whisper models and translation packages under models/: fetch, bundle, add, use, list.",
    no_args_is_help=True,
)


@app.command("add")
def models_add(
    path: Path = typer.Argument(
        ...,
        help="A model bundle (.tar from `models fetch` or `models bundle`), a Whisper "
        ".pt checkpoint, a faster-whisper (CTranslate2) folder, a Hugging Face "
        "Whisper folder, or an .argosmodel file.",
    ),
    name: Optional[str] = typer.Option(
        None,
        "--name",
        help="Name to install it under (default: the file or "
        "folder name); [asr.models] in testimony.toml uses it.",
    ),
    languages: Optional[str] = typer.Option(
        None, "--languages", help="Languages it is for, e.g. ky,kk (default: what the model says)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Replace an installed model of the same name."
    ),
):
    """Install models from a bundle, file or folder (no network); Whisper models are converted for both engines."""
    settings = load_settings()
    try:
        info = add_model(settings, path, name=name, languages=languages, replace=replace)
    except Exception as exc:
        die(str(exc))
    if info["kind"] == "bundle":
        for entry in info["models"]:
            state = "added" if entry["name"] in info["installed"] else "already installed"
            typer.echo(
                f"{state} {entry['kind']} model {entry['name']} ({entry.get('repo') or '-'} "
                f"revision {entry.get('revision') or '-'}; languages {','.join(entry.get('languages') or [])})"
            )
        typer.echo(
            f"bundle checked: every file matches its SHA-256; manifest sha256 {info['manifest_sha256']} "
            f"recorded in the custody log"
        )
        typer.echo("Make a model serve languages:  testimony models use NAME --languages kk,ky")
        return
    if info["kind"] == "argos":
        typer.echo(f"added {info['kind']} model {info['name']} (sha256 {info['sha256']})")
        return
    folder = whisper_dir(settings)
    state = "already installed" if info.get("unchanged") else "added"
    typer.echo(f"{state} Whisper model {info['name']} from {SOURCE_FORMATS[info['format']]}")
    for file, digest in info["source_sha256"].items():
        typer.echo(f"  source        {file} sha256 {digest}")
    typer.echo(f"  openai-whisper {folder / (info['name'] + '.pt')} (sha256 {info['sha256']})")
    if info.get("ct2_sha256"):
        typer.echo(
            f"  faster-whisper {folder / (info['name'] + '-ct2')} (model.bin sha256 {info['ct2_sha256']})"
        )
    else:
        typer.echo("  faster-whisper converted on first use")
    typer.echo(f"  languages     {languages_label(info)} (from {info['languages_from']})")
    language = next(
        (c for c in ("ky", *config.LANGUAGES) if c in (info.get("languages") or ["ky"])), "ky"
    )
    typer.echo(
        f'Use it for a language in testimony.toml:  [asr.models]  {language} = "{info["name"]}"'
    )


def _provenance_lines(row: dict) -> list[str]:
    found = row.get("provenance") or {}
    lines = []
    if found.get("source"):
        revision = f" @ {found['revision']}" if found.get("revision") else ""
        lines.append(
            f"      from {found['source']}{revision}; licence {found.get('licence') or 'unknown'}"
        )
    lines += [f"      published: {figure}" for figure in found.get("published") or []]
    return lines


@app.command("list")
def models_list():
    """Installed models: formats, languages, SHA-256, what uses them, source, licence, published error rates."""
    settings = load_settings()
    rows = list_models(settings)
    whisper = [r for r in rows if r["kind"] == "whisper"]
    typer.secho(
        f"Whisper models (engine {settings.asr_engine}; formats: pt = openai-whisper, "
        f"ct2 = faster-whisper)",
        bold=True,
    )
    typer.echo(f"  {'NAME':<24} {'FORMATS':<21} {'LANGUAGES':<24} {'SHA-256':<13} USED FOR")
    for row in whisper:
        used = " ".join(row["used_for"]) or "-"
        typer.echo(
            f"  {row['name']:<24} {row['formats']:<21} {row['languages']:<24} "
            f"{row['sha256_short']:<13} {used}"
        )
        for line in _provenance_lines(row):
            typer.echo(line)
    for row in (r for r in rows if r["kind"] == "missing"):
        typer.secho(
            f"  {row['name']:<24} {' '.join(row['used_for'])}: {row['hint']}", fg=typer.colors.RED
        )
    argos = [r for r in rows if r["kind"] == "argos"]
    typer.secho("Argos translation packages", bold=True)
    for row in argos:
        typer.echo(f"  {row['name']:<24} {row['languages']}")
        for line in _provenance_lines(row):
            typer.echo(line)
    if not argos:
        typer.echo("  none: add one with `testimony models add FILE.argosmodel`")


@app.command("prepare")
def models_prepare():
    """Build the embedded Whisper base checkpoint now (otherwise done on first use)."""
    settings = load_settings()
    checkpoint, sha = resolve_whisper(settings, EMBEDDED_NAME)
    typer.echo(f"embedded Whisper base ready: {checkpoint} (sha256 {sha})")


@app.command("fetch")
def models_fetch(
    names: List[str] = typer.Argument(
        ...,
        help=f"Models to fetch: {', '.join(KNOWN)}, or the Hugging Face "
        f"repository ID (OWNER/NAME) of a Whisper fine-tune.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The bundle to write (a .tar file)."),
    languages: Optional[str] = typer.Option(
        None,
        "--languages",
        help="Languages the models serve, e.g. kk (a fine-tune's own language).",
    ),
):
    """On a connected machine: download models pinned to a revision, convert them for every engine, bundle them."""
    settings = load_settings()
    if out.suffix != ".tar":
        die(f"--out names the bundle to write, a .tar file (not {out.name})")
    try:
        result = fetch(
            settings, names, out, languages=languages, say=lambda line: typer.echo(line, err=True)
        )
    except ModelError as exc:
        die(str(exc))
    for entry in result["models"]:
        typer.echo(
            f"  {entry['name']:<28} {entry['kind']:<8} {entry.get('repo')} @ {entry.get('revision')} "
            f"({entry.get('licence')}; {','.join(entry.get('languages') or [])})"
        )
    typer.echo(f"wrote {out} (manifest sha256 {result['manifest_sha256']})")
    typer.echo(f"Carry it to the offline machine and run:  testimony models add {out.name}")


@app.command("bundle")
def models_bundle(
    names: List[str] = typer.Argument(
        ..., help="Installed models to pack (names from `testimony models list`)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The bundle to write (a .tar file)."),
):
    """Pack installed models into one bundle, for worker machines or a second office."""
    settings = load_settings()
    if out.suffix != ".tar":
        die(f"--out names the bundle to write, a .tar file (not {out.name})")
    try:
        result = bundle_installed(settings, names, out)
    except ModelError as exc:
        die(str(exc))
    typer.echo(
        f"wrote {out} with {', '.join(result['models'])} (manifest sha256 {result['manifest_sha256']})"
    )


@app.command("use")
def models_use(
    name: str = typer.Argument(..., help="An installed Whisper model."),
    languages: str = typer.Option(..., "--languages", help="The languages it serves, e.g. kk,ky."),
):
    """Make an installed Whisper model serve languages (the asr.models table in testimony.toml)."""
    settings = load_settings()
    codes = [c.strip().lower() for c in languages.split(",") if c.strip()]
    try:
        path = use_model(settings, name, codes)
    except (ModelError, config.SettingsError) as exc:
        die(str(exc))
    typer.echo(f"{name} now serves {','.join(codes)} ([asr.models] in {path})")


def register(app_: typer.Typer, panel: str) -> None:
    """Attach these commands to the `testimony` app, under ``panel`` in its help."""
    app_.add_typer(app, name="models", rich_help_panel=panel)
