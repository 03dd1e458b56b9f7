"""The ``testimony`` command: parses arguments and calls the stages; no logic of its own."""

from __future__ import annotations

import dataclasses
import json
import signal
import threading
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from . import asr, benches, config, custody_cli, intake, models, runner, versions, watch
from . import retranscribe as again
from .cluster import cli as cluster_cli
from .console import Bar, die, load_settings
from .export import cli as export_cli
from .models import cli as models_cli
from .review import cli as review_cli
from .review.rebase import carry_for_job
from .search import cli as search_cli
from .store import Job, Store

# `testimony --help` groups the commands by workflow, in this order.
TAKE_IN, REVIEW, PUBLISH, ARCHIVE, MACHINES, MODELS = (
    "Take in",
    "Review",
    "Publish",
    "Archive",
    "Machines",
    "Models",
)
PANELS = (TAKE_IN, REVIEW, PUBLISH, ARCHIVE, MACHINES, MODELS)


class _ByWorkflow(TyperGroup):
    """Lists commands panel by panel in PANELS' order (typer shows panels as first met)."""

    def list_commands(self, ctx) -> list[str]:
        def place(name: str) -> int:
            panel = getattr(self.commands[name], "rich_help_panel", None)
            return PANELS.index(panel) if panel in PANELS else len(PANELS)

        return sorted(super().list_commands(ctx), key=place)


app = typer.Typer(
    cls=_ByWorkflow,
    no_args_is_help=True,
    help="Offline testimony pipeline: interviews in, reviewable transcripts and "
    "English translations out, linked to case IDs.",
)
# The one way to add a command: the pipeline's own are below, each with its panel; a package's
# live in its cli.py, whose register(app, panel) attaches them, called once here.
review_cli.register(app, REVIEW)
export_cli.register(app, PUBLISH)
search_cli.register(app, ARCHIVE)
cluster_cli.register(app, MACHINES)
models_cli.register(app, MODELS)
benches.register(app, MODELS)

LanguageOpt = typer.Option(
    None, "--language", "-l", help="Spoken language: kk, ky or ru (default: detect kk/ru)."
)


def _describe(job: Job, settings: config.Settings) -> str:
    if job.state == "done":
        extra = f"{_made(job)} -> {job.output_dir}"
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


def _made(job: Job) -> str:
    """Which model made the current transcript, and which version of the transcript it is."""
    folder = Path(job.output_dir or "")
    return f"[{versions.made_by(folder).label}, v{versions.current_number(folder)}]"


def _file_warnings(job: Job) -> list[str]:
    """Warnings about the whole file (e.g. that it may be Kyrgyz) from its transcript."""
    try:
        return json.loads(
            (Path(job.output_dir) / "transcript.json").read_text(encoding="utf-8")
        ).get("warnings", [])
    except (OSError, ValueError, TypeError):
        return []


@app.command(rich_help_panel=TAKE_IN)
def process(
    paths: List[Path] = typer.Argument(
        ..., help="Recordings, or folders of them, to process (left where they are)."
    ),
    case: Optional[str] = typer.Option(
        None, "--case", "-c", help="Case ID for all the given files."
    ),
    language: Optional[str] = LanguageOpt,
    model: Optional[str] = typer.Option(
        None, help="Whisper model (default: settings, else embedded base)."
    ),
    allow_download: bool = typer.Option(
        False, "--allow-download", help="Let whisper fetch a named model (online machines only)."
    ),
):
    """Process recordings now, one after another: copy to the evidence store, transcribe, translate."""
    settings = load_settings(allow_download, model)
    cluster_cli.preflight(settings)
    store = Store(settings.database)
    _take_back(settings, store)
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
            queued.append(
                job
            )  # taken in before but not finished (interrupted, or the disk was full)
        elif result.duplicate:
            typer.echo(
                f"{path}: already taken in as {job.interview_id} ({job.state}); "
                "not processed again"
                + (
                    f" (to transcribe it again: testimony retranscribe {job.interview_id})"
                    if job.state == "done"
                    else ""
                )
            )
        elif job.state == "needs_case":
            typer.echo(
                f"{path}: no case ID (no --case, sidecar, case folder or CASE-ID_ prefix). "
                f"Safe in the evidence store; link it with: testimony link {job.interview_id} CASE-ID"
            )
            problems += 1
        else:
            queued.append(job)
    problems += _run_jobs(settings, store, queued)
    store.close()
    if problems:
        raise typer.Exit(1)


def _take_back(settings: config.Settings, store: Store) -> None:
    """Jobs left 'running' by a process of this machine that has ended (killed, power lost) go
    back to the queue, as `testimony watch` does at start; say so for each."""
    for job in store.requeue_orphans(settings.max_attempts):
        back = store.job(job.id)
        if back.state == "failed":
            typer.secho(f"{job.interview_id}: failed: {back.error}", fg=typer.colors.RED, err=True)
        else:
            typer.echo(
                f"{job.interview_id}: the run that had it ({job.owner}) stopped during "
                f"{job.stage or 'processing'}; queued again, it resumes where it stopped",
                err=True,
            )


def _recordings(paths: list[Path]) -> list[Path]:
    """The given files, and the recordings inside any given folder (subfolders too)."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and intake.is_media(p) and not intake.is_temporary(p)
            )
        else:
            found.append(path)
    return found


def _run_jobs(settings: config.Settings, store: Store, jobs: list[Job]) -> int:
    """Run the jobs (several in flight on a coordinator); return how many did not finish."""
    bar, results, pending = Bar(), [], list(jobs)

    def claim(s: Store) -> Job | None:
        while pending:
            job = pending.pop(0)
            claimed = s.claim(job.id)
            if claimed is not None:
                return claimed
            typer.echo(f"{job.interview_id}: taken by a running watcher")
        return None

    def run(s: Store, job: Job) -> Job:
        return runner.JobRunner(settings, s, bar, carry_for_job).run(job)

    def report(finished: Job) -> None:
        results.append(_report(finished))

    try:
        if settings.broker:
            cluster_cli.require()  # `link` and `retry` reach here without a preflight
            from .cluster.inflight import run_in_flight

            run_in_flight(settings, claim, run, done=report)
        else:
            while (job := claim(store)) is not None:
                report(run(store, job))
    except KeyboardInterrupt:
        store.release_own()
        die("interrupted; the job is queued again and resumes on the next run", 130)
    return sum(results)


def _report(finished: Job) -> int:
    """Say how a job ended; 1 if it did not finish."""
    if finished.state == "queued":
        typer.secho(
            f"{finished.interview_id}: not finished: {finished.error}",
            fg=typer.colors.YELLOW,
            err=True,
        )
        return 1
    if finished.state != "done":
        typer.secho(
            f"{finished.interview_id}: failed: {finished.error}", fg=typer.colors.RED, err=True
        )
        return 1
    typer.echo(f"{finished.interview_id}: done -> {finished.output_dir}")
    if finished.translation == "missing":
        typer.echo(
            "  English translation missing: "
            + json.loads((Path(finished.output_dir) / "transcript.json").read_text())[
                "translation"
            ]["how_to_fix"]
        )
    return 0


def _interrupt(signum, frame):
    """SIGTERM and SIGINT stop the watcher the way Ctrl-C does."""
    raise KeyboardInterrupt


@app.command("watch", rich_help_panel=TAKE_IN)
def watch_cmd(
    model: Optional[str] = typer.Option(
        None, help="Whisper model (default: settings, else embedded base)."
    ),
    allow_download: bool = typer.Option(False, "--allow-download"),
):
    """Watch inbox/ (and the folders in testimony.toml) and process what arrives, until Ctrl-C."""
    settings = load_settings(allow_download, model)
    cluster_cli.preflight(settings)
    folders = ", ".join(str(f.path) for f in settings.watch)
    typer.echo(
        f"watching {folders} (settle {settings.settle_seconds:g}s); outputs in {settings.outbox}. "
        f"Ctrl-C stops."
    )
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


@app.command(rich_help_panel=TAKE_IN)
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Queued, running, done and failed work, with reasons."""
    settings = load_settings()
    store = Store(settings.database)
    _take_back(settings, store)
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
                typer.echo(
                    f"  {job.case_id or '-':<14} {job.interview_id:<40} {_describe(job, settings)}"
                )
    cluster_cli.show_status(settings, waiting=any(j.state == "running" for j in jobs))


@app.command(rich_help_panel=TAKE_IN)
def link(
    file: str = typer.Argument(..., help="Interview ID, original file name or SHA-256 prefix."),
    case_id: str = typer.Argument(..., help="The case ID to link it to."),
):
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


@app.command(rich_help_panel=TAKE_IN)
def retry(interview: str = typer.Argument(..., help="Interview ID of a failed or queued job.")):
    """Process a failed interview again (after fixing what its error said), or a queued one."""
    settings = load_settings()
    store = Store(settings.database)
    _take_back(settings, store)
    matches = [j for j in store.find_jobs(interview) if j.state in ("failed", "queued")]
    if len(matches) != 1:
        die(f"{interview!r} names {len(matches)} failed or queued interviews")
    store.update(matches[0].id, state="queued", attempts=0, error=None)
    if not watch.watcher_running(settings) and _run_jobs(
        settings, store, [store.job(matches[0].id)]
    ):
        raise typer.Exit(1)


@app.command("retranscribe", rich_help_panel=ARCHIVE)
def retranscribe_cmd(
    interviews: Optional[List[str]] = typer.Argument(
        None, help="Interview IDs (or original file names)."
    ),
    case: Optional[str] = typer.Option(
        None, "--case", "-c", help="Every finished interview of this case."
    ),
    every: bool = typer.Option(False, "--all", help="Every finished interview."),
    unreviewed_only: bool = typer.Option(
        False, "--unreviewed-only", help="Only those no reviewer has started."
    ),
    outdated: bool = typer.Option(
        False,
        "--outdated",
        help="Only those made with another model than the one the settings "
        "now choose for their language.",
    ),
    language: Optional[str] = typer.Option(
        None, "--language", "-l", help="kk, ky or ru (default: as before)."
    ),
    model: Optional[str] = typer.Option(
        None, help="Installed Whisper model to use (default: the settings')."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only list what would be transcribed again."
    ),
):
    """Transcribe finished interviews again; the old transcript is kept as a numbered version and
    a reviewer's saved work is kept (new machine text is offered beside it)."""
    settings = load_settings()
    if model:
        try:
            probe = dataclasses.replace(settings, whisper_model=model, language_models=())
            models.resolve_for_engine(probe, asr.engine_name(settings))
        except models.ModelError as exc:
            die(str(exc))
    cluster_cli.preflight(settings)
    store = Store(settings.database)
    _take_back(settings, store)
    try:
        choices = again.choose(
            settings, store, interviews or [], case, every, unreviewed_only, outdated
        )
    except again.RetranscribeError as exc:
        die(str(exc))
    chosen = [c for c in choices if not c.reason]
    for c in choices:
        typer.echo(
            f"{c.job.interview_id}: "
            + (
                f"left as it is: {c.reason}"
                if c.reason
                else "resuming its interrupted retranscription (as it was requested)"
                if c.resume
                else f"made with {c.made.label}; transcribing again"
            )
        )
    if dry_run or not chosen:
        typer.echo(
            f"{len(chosen)} of {len(choices)} to transcribe again"
            + (" (dry run)" if dry_run else "")
        )
        return
    queued = [c.job for c in chosen if c.resume]
    for c in chosen:
        if c.resume:
            continue
        try:
            queued.append(again.request(store, c.job, language, model))
        except again.TakenError as exc:
            typer.secho(
                f"{c.job.interview_id}: left as it is: {exc}", fg=typer.colors.YELLOW, err=True
            )
        except again.RetranscribeError as exc:
            die(str(exc))
    if watch.watcher_running(settings):
        typer.echo(
            f"{len(queued)} queued; the running watcher transcribes them "
            "(`testimony status` shows each)"
        )
    elif _run_jobs(settings, store, queued):
        raise typer.Exit(1)


@app.command(rich_help_panel=TAKE_IN)
def translate(
    pending: bool = typer.Option(
        False, "--pending", help="Translate interviews written without English."
    ),
):
    """Fill in English translations once a package for their language has been added."""
    if not pending:
        die("say what to translate: --pending")
    settings = load_settings()
    store = Store(settings.database)
    updated = runner.translate_pending(settings, store)
    for job in updated:
        typer.echo(f"{job.interview_id}: translation {job.translation}")
    left = [j.interview_id for j in store.jobs("done") if j.translation == "missing"]
    if left:
        typer.echo(f"still without a package: {', '.join(left)}")
    store.close()


# Last, so that `testimony --help` lists them after retranscribe, as it always has.
custody_cli.register(app, ARCHIVE)

if __name__ == "__main__":  # pragma: no cover
    app()
