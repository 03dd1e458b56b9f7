"""The watcher: takes in what arrives in the watched folders and works through the queue.

Polling, not filesystem events: it works the same on network shares and USB drives, and a
file that arrived while the watcher was down is simply found on the first scan. One thread
scans and takes files in; the main thread runs jobs, so a long transcription never delays
the intake (and hashing) of new arrivals. One watcher per home folder, held by a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import threading
import time
from pathlib import Path

from . import intake
from .config import Settings, WatchFolder
from .review.rebase import carry_for_job
from .runner import JobRunner, Reporter
from .store import Store

log = logging.getLogger(__name__)

# How long a saved review.txt must stand still before it is imported: longer than an editor
# saving over a share or a busy disk stalls between truncating the file and writing it.
REVIEW_SETTLE_SECONDS = 5.0


class AlreadyWatching(RuntimeError):
    """Another watcher holds this home folder."""


@contextlib.contextmanager
def watch_lock(settings: Settings):
    path = settings.home / ".watch.lock"
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise AlreadyWatching(
            f"another `testimony watch` (pid {holder}) is already watching "
            f"{settings.home}; stop it first, or use another TESTIMONY_HOME"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    try:
        yield
    finally:
        fh.close()


def watcher_running(settings: Settings) -> bool:
    try:
        with watch_lock(settings):
            return False
    except AlreadyWatching:
        return True


def _changed_since_rejection(store: Store, path: Path, size: int, mtime: float) -> bool:
    row = store.rejected(Path(intake.printable(path)))
    return row is None or (row["size"], row["mtime"]) != (size, mtime)


def scan_once(
    settings: Settings, store: Store, settler: intake.Settler, now: float | None = None
) -> list[intake.Intake]:
    """One pass over every watched folder: take in each file that has settled."""
    now = time.monotonic() if now is None else now
    taken = []
    for folder in settings.watch:
        for path in intake.scan(folder):
            result = _consider(settings, store, settler, folder, path, now)
            if result is not None:
                taken.append(result)
    return taken


def _consider(
    settings: Settings,
    store: Store,
    settler: intake.Settler,
    folder: WatchFolder,
    path: Path,
    now: float,
) -> intake.Intake | None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        settler.forget(path)
        return None
    if intake.is_sidecar(path):
        return None  # taken with its recording
    sidecar = intake.sidecar_for(path)
    mtime = max(st.st_mtime, sidecar.stat().st_mtime if sidecar else 0.0)
    if not _changed_since_rejection(store, path, st.st_size, mtime):
        return None
    if not settler.ready(path, st.st_size, mtime, now):
        return None
    settler.forget(path)
    if stat.S_ISLNK(st.st_mode):
        intake.reject(
            store, path, "Links are not taken in: copy the recording itself into the folder."
        )
        return None
    if not stat.S_ISREG(st.st_mode):
        intake.reject(
            store, path, "Not a regular file (a pipe, device or socket): copy the recording itself."
        )
        return None
    if not intake.is_media(path):
        intake.reject(
            store,
            path,
            "Not a recording this tool takes. Video: mp4 mov mkv webm avi m4v 3gp; "
            "audio: wav mp3 m4a ogg opus flac. Remove this note once you have moved "
            "the file away.",
        )
        return None
    try:
        return intake.take(settings, store, path, folder=folder, move=True)
    except intake.IntakeError as exc:
        if path.exists():
            intake.reject(store, path, str(exc), mtime)
        return None


class ReviewFiles:
    """Imports a reviewer's edited ``review.txt`` from the outbox when it changes.

    A change is imported once the file has stood still for :data:`REVIEW_SETTLE_SECONDS` (or
    the intake's settle time, if longer): an editor that saves in place truncates the file and
    then writes it, and over a share or a busy disk it can stall in between, or mid-write. The
    empty or half-written file read then would be imported as the reviewer's save.
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._seen: dict[Path, tuple[int, int]] = {}  # as last imported
        self._settler = intake.Settler(max(settings.settle_seconds, REVIEW_SETTLE_SECONDS))

    def scan(self) -> None:
        from .review.textfile import ReviewError, import_review_file

        now = time.monotonic()
        for path in self.settings.outbox.glob("*/*/review.txt"):
            try:
                st = path.stat()
            except OSError:  # gone, or a link to nothing
                continue
            # a pipe would block the scan (and all intake) in open()
            if not stat.S_ISREG(st.st_mode):
                continue
            seen = (st.st_size, st.st_mtime_ns)
            if self._seen.get(path) == seen:
                continue
            if not self._settler.ready(path, st.st_size, st.st_mtime, now):
                continue
            self._settler.forget(path)
            self._seen[path] = seen
            try:
                import_review_file(self.settings, path)
            except ReviewError as exc:  # the reasons are written beside the file, for the reviewer
                log.warning("review file %s not imported: %s", path, type(exc).__name__)


def run(
    settings: Settings, stop: threading.Event, reporter: Reporter | None = None, on_intake=None
) -> None:
    """Watch until ``stop`` is set (or Ctrl-C); interrupted jobs go back to the queue."""
    settings.ensure_dirs()
    with watch_lock(settings):
        store = Store(settings.database)
        for job in store.requeue_orphans(settings.max_attempts):
            log.info("requeued %s after an interrupted run", job.interview_id)
        scanner = threading.Thread(target=_scan_loop, args=(settings, stop, on_intake), daemon=True)
        scanner.start()
        job_runner = JobRunner(settings, store, reporter, carry_for_job)
        try:
            if settings.broker:  # a coordinator: several interviews in flight
                from .cluster.inflight import run_in_flight

                run_in_flight(
                    settings,
                    lambda s: s.claim(),
                    lambda s, job: JobRunner(settings, s, reporter, carry_for_job).run(job),
                    stop,
                    keep_waiting=True,
                )
            while not stop.is_set():
                job = job_runner.run_next()
                if job is None:
                    _pause(stop, settings.poll_seconds)
                elif (
                    job.state == "queued"
                ):  # put back (disk full): give the user time to free space
                    _pause(stop, settings.poll_seconds * 10)
        finally:
            stop.set()
            store.release_own()
            scanner.join(timeout=10)
            store.close()


def _pause(stop: threading.Event, seconds: float) -> None:
    """Sleep in short steps: Ctrl-C lands in time.sleep, never inside Event.wait's lock handling,
    which the `finally` above must still be able to use (stop.set())."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(min(0.05, seconds))


def _scan_loop(settings: Settings, stop: threading.Event, on_intake) -> None:
    store = Store(settings.database)
    settler = intake.Settler(settings.settle_seconds)
    reviews = ReviewFiles(settings)
    try:
        while not stop.is_set():
            try:
                for result in scan_once(settings, store, settler):
                    if on_intake:
                        on_intake(result)
                reviews.scan()
            except Exception:
                log.exception("scan failed; retrying")
            stop.wait(settings.poll_seconds)
    finally:
        store.close()
