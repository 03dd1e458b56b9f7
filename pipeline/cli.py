"""The ``testimony`` command: parses arguments and calls the stages; no logic of its own."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
from pathlib import Path
from typing import List, Optional

import typer

from . import cluster_cli, config, custody, intake, watch, worker
from .console import Bar, die, load_settings
from .bench import bench_app
from . import bench_speakers  # noqa: F401  (adds `bench speakers` to bench_app)
from . import bench_faces, bench_protect  # noqa: F401  (add `bench faces`, `bench protect`)
from .export.cli import register as register_export
from .export.keys_cli import register as register_keys
from .models.cli import app as models_app
from .review.cli import app as review_app
from .review.accounts_cli import app as reviewers_app
from .search_cli import register as register_search
from .store import Job, Store

app = typer.Typer(help="Offline testimony pipeline: interviews in, reviewable transcripts and "
                       "English translations out, linked to case IDs.", no_args_is_help=True)
app.add_typer(models_app, name="models")
register_export(app)
register_keys(app)
register_search(app)
app.add_typer(review_app, name="review")
app.add_typer(reviewers_app, name="reviewers")
app.add_typer(bench_app, name="bench")
cluster_cli.register(app)

LanguageOpt = typer.Option(None, "--language", "-l", help="Spoken language: kk, ky or ru (default: detect kk/ru).")


def _describe(job: Job, settings: config.Settings) -> str:
    if job.state == "done":
        extra = f"-> {job.output_dir}"
        if job.translation == "missing":
            extra += "  (English missing: add a package, then `testimony translate --pending`)"
        return extra + "".join(f"\n{'':<57}warning: {w}" for w in _file_warnings(job))
    if job.state == "failed":
        return f"{job.error}"
    if job.state == "needs_case":
        return f"needs a case ID: testimony link {job.interview_id} CASE-ID"
    if job.state == "running":
        return f"{job.stage or 'starting'} {int(job.progress * 100)}%"
    return job.error or "waiting"


def _file_warnings(job: Job) -> list[str]:
    """Warnings about the whole file (e.g. that it may be Kyrgyz) from its transcript."""
    try:
        return json.loads((Path(job.output_dir) / "transcript.json").read_text(encoding="utf-8")).get("warnings", [])
    except (OSError, ValueError, TypeError):
        return []


@app.command()
def process(
    paths: List[Path] = typer.Argument(..., help="Recordings, or folders of them, to process (left where they are)."),
    case: Optional[str] = typer.Option(None, "--case", "-c", help="Case ID for all the given files."),
    language: Optional[str] = LanguageOpt,
    model: Optional[str] = typer.Option(None, help="Whisper model (default: settings, else embedded base)."),
    allow_download: bool = typer.Option(False, "--allow-download",
                                        help="Let whisper fetch a named model (online machines only)."),
):
    """Process recordings now, one after another: copy to the evidence store, transcribe, translate."""
    settings = load_settings(allow_download, model)
    cluster_cli.preflight(settings)
    store = Store(settings.database)
    queued: list[Job] = []
    problems = 0
    for path in _recordings(paths):
        if not path.is_file():
            typer.secho(f"{path}: no such file", fg=typer.colors.RED, err=True)
            problems += 1
            continue
        try:
            result = intake.take(settings, store, path.resolve(), case_id=case, language=language)
        except intake.IntakeError as exc:
            typer.secho(f"{path}: {exc}", fg=typer.colors.RED, err=True)
            problems += 1
            continue
        job = result.job
        if result.duplicate and job.state == "queued":
            queued.append(job)  # taken in before but not finished (interrupted, or the disk was full)
        elif result.duplicate:
            typer.echo(f"{path}: already taken in as {job.interview_id} ({job.state}); not processed again")
        elif job.state == "needs_case":
            typer.echo(f"{path}: no case ID (no --case, sidecar, case folder or CASE-ID_ prefix). "
                       f"Safe in the evidence store; link it with: testimony link {job.interview_id} CASE-ID")
            problems += 1
        else:
            queued.append(job)
    problems += _run_jobs(settings, store, queued)
    store.close()
    if problems:
        raise typer.Exit(1)


def _recordings(paths: list[Path]) -> list[Path]:
    """The given files, and the recordings inside any given folder (subfolders too)."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*")
                            if p.is_file() and intake.is_media(p) and not intake.is_temporary(p))
        else:
            found.append(path)
    return found


def _run_jobs(settings: config.Settings, store: Store, jobs: list[Job]) -> int:
    runner = worker.Worker(settings, store, Bar())
    failures = 0
    for job in jobs:
        claimed = store.claim(job.id)
        if claimed is None:
            typer.echo(f"{job.interview_id}: taken by a running watcher")
            continue
        try:
            finished = runner.run(claimed)
        except KeyboardInterrupt:
            store.release_own()
            die("interrupted; the job is queued again and resumes on the next run", 130)
        if finished.state == "queued":
            failures += 1
            typer.secho(f"{finished.interview_id}: not finished: {finished.error}", fg=typer.colors.YELLOW, err=True)
        elif finished.state == "done":
            typer.echo(f"{finished.interview_id}: done -> {finished.output_dir}")
            if finished.translation == "missing":
                typer.echo("  English translation missing: " +
                           json.loads((Path(finished.output_dir) / "transcript.json").read_text())
                           ["translation"]["how_to_fix"])
        else:
            failures += 1
            typer.secho(f"{finished.interview_id}: failed: {finished.error}", fg=typer.colors.RED, err=True)
    return failures


def _interrupt(signum, frame):
    """SIGTERM and SIGINT stop the watcher the way Ctrl-C does."""
    raise KeyboardInterrupt


@app.command("watch")
def watch_cmd(
    model: Optional[str] = typer.Option(None, help="Whisper model (default: settings, else embedded base)."),
    allow_download: bool = typer.Option(False, "--allow-download"),
):
    """Watch inbox/ (and the folders in testimony.toml) and process what arrives, until Ctrl-C."""
    settings = load_settings(allow_download, model)
    cluster_cli.preflight(settings)
    folders = ", ".join(str(f.path) for f in settings.watch)
    typer.echo(f"watching {folders} (settle {settings.settle_seconds:g}s); outputs in {settings.outbox}. "
               f"Ctrl-C stops.")
    stop = threading.Event()

    def on_intake(result: intake.Intake) -> None:
        job = result.job
        what = "duplicate of" if result.duplicate else "received"
        typer.echo(f"{what} {job.interview_id} (case {job.case_id or '?'}, {job.state})")

    # Both stop the watcher cleanly. SIGINT is set explicitly: a shell script that starts the
    # watcher in the background passes SIGINT on as ignored, and Python then never raises
    # KeyboardInterrupt (seen in CI-like runs: the watcher ignored SIGINT, stopped on SIGTERM).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        watch.run(settings, stop, Bar(), on_intake)
    except watch.AlreadyWatching as exc:
        die(str(exc))
    except KeyboardInterrupt:
        typer.echo("\nstopped; unfinished work resumes at the next start")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Queued, running, done and failed work, with reasons."""
    settings = load_settings()
    store = Store(settings.database)
    jobs = store.jobs()
    store.close()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(j) for j in jobs], indent=2, ensure_ascii=False))
        return
    if not jobs:
        typer.echo(f"nothing yet: drop recordings into {settings.inbox} and run `testimony watch`")
        return
    for state in ("running", "queued", "needs_case", "failed", "done"):
        group = [j for j in jobs if j.state == state]
        if group:
            typer.secho(f"{state.replace('_', ' ')} ({len(group)})", bold=True)
            for job in group:
                typer.echo(f"  {job.case_id or '-':<14} {job.interview_id:<40} {_describe(job, settings)}")
    cluster_cli.show_status(settings, waiting=any(j.state == "running" for j in jobs))


@app.command()
def link(file: str = typer.Argument(..., help="Interview ID, original file name or SHA-256 prefix."),
         case_id: str = typer.Argument(..., help="The case ID to link it to.")):
    """Give a recording that arrived without a case ID its case, and process it."""
    settings = load_settings()
    if not settings.case_id_ok(case_id):
        die(f"case ID {case_id!r} does not match the pattern {settings.case_id_pattern!r}")
    store = Store(settings.database)
    matches = [j for j in store.find_jobs(file) if j.state == "needs_case"]
    if len(matches) != 1:
        waiting = ", ".join(j.interview_id for j in store.jobs("needs_case")) or "none"
        die(f"{file!r} names {len(matches)} recordings waiting for a case; waiting: {waiting}")
    job = matches[0]
    store.update(job.id, case_id=case_id, state="queued")
    store.event("linked", sha256=job.sha256, interview_id=job.interview_id, case_id=case_id)
    typer.echo(f"{job.interview_id} linked to {case_id}")
    if watch.watcher_running(settings):
        typer.echo("the running watcher will process it")
    elif _run_jobs(settings, store, [store.job(job.id)]):
        raise typer.Exit(1)


@app.command()
def retry(interview: str = typer.Argument(..., help="Interview ID of a failed job.")):
    """Process a failed interview again (after fixing what its error said)."""
    settings = load_settings()
    store = Store(settings.database)
    matches = [j for j in store.find_jobs(interview) if j.state == "failed"]
    if len(matches) != 1:
        die(f"{interview!r} names {len(matches)} failed interviews")
    store.update(matches[0].id, state="queued", attempts=0, error=None)
    if not watch.watcher_running(settings) and _run_jobs(settings, store, [store.job(matches[0].id)]):
        raise typer.Exit(1)


@app.command()
def translate(pending: bool = typer.Option(False, "--pending",
                                           help="Translate interviews written without English.")):
    """Fill in English translations once a package for their language has been added."""
    if not pending:
        die("say what to translate: --pending")
    settings = load_settings()
    store = Store(settings.database)
    updated = worker.translate_pending(settings, store)
    for job in updated:
        typer.echo(f"{job.interview_id}: translation {job.translation}")
    left = [j.interview_id for j in store.jobs("done") if j.translation == "missing"]
    if left:
        typer.echo(f"still without a package: {', '.join(left)}")
    store.close()


@app.command()
def verify(case: Optional[str] = typer.Argument(None, help="Only this case (default: everything).")):
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
    typer.echo(f"{len(findings) - len(bad) - unchecked} intact, {len(bad)} not"
               + (f", {unchecked} not checked (replaced, or not here)" if unchecked else ""))
    if bad:
        raise typer.Exit(1)


@app.command("custody")
def custody_cmd(interview: str = typer.Argument(..., help="Interview ID (or original file name)."),
                as_json: bool = typer.Option(False, "--json")):
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


if __name__ == "__main__":  # pragma: no cover
    app()
