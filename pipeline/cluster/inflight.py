"""Several interviews in flight on a coordinator, so that N workers stay busy on a queue.

One interview at a time leaves workers idle whenever it has fewer pieces than there are
decoding processes, and while its speaker turns, translation and files are made on the
coordinator. Here each interview runs in a thread of its own (its own database connection and
job runner); its pieces go to the workers like any other, so the next interview's pieces decode
while the last one is finished off.

The limit is ``[cluster] interviews_in_flight``; 0 (the default) means one more than the
decoding processes of the workers connected, looked up again every :data:`LOOK_S` seconds, and at
least 2.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ..config import Settings
from ..store import Job, Store
from .broker import app, configure

log = logging.getLogger(__name__)

LOOK_S = 10.0
IDLE_S = 0.2

Claim = Callable[[Store], "Job | None"]
Run = Callable[[Store, Job], Job]


def decoding_processes(timeout: float = 1.0) -> int:
    """The pool processes of the connected workers, together."""
    stats = app.control.inspect(timeout=timeout).stats() or {}
    return sum(int((s.get("pool") or {}).get("max-concurrency") or 1) for s in stats.values())


class Limit:
    """How many interviews may be in flight now."""

    def __init__(self, settings: Settings):
        self.fixed = settings.interviews_in_flight
        self.value, self.checked = 2, 0.0

    def __call__(self) -> int:
        if self.fixed:
            return self.fixed
        if time.monotonic() - self.checked >= LOOK_S:
            self.checked = time.monotonic()
            try:
                self.value = max(2, decoding_processes() + 1)
            except Exception as exc:  # a broker that is away: keep the last figure
                log.warning(
                    "could not count the workers (%s); keeping %d in flight",
                    type(exc).__name__,
                    self.value,
                )
        return self.value


def run_in_flight(
    settings: Settings,
    claim: Claim,
    run: Run,
    stop: threading.Event | None = None,
    keep_waiting: bool = False,
    done: Callable[[Job], None] | None = None,
) -> None:
    """Claim jobs with ``claim`` and run each with ``run`` in its own thread, up to the limit.

    Returns once nothing is left to claim and every thread has finished, or, with
    ``keep_waiting`` (the watcher), only when ``stop`` is set. ``done`` gets each finished job.
    """
    configure(settings.broker, settings.visibility_timeout)  # before the first look at the workers
    limit, running, put_back = Limit(settings), [], []

    def finished(job: Job) -> None:
        if job.state == "queued":  # put back (disk full): give the user time to free space
            put_back.append(time.monotonic() + settings.poll_seconds * 10)
        if done:
            done(job)

    store = Store(settings.database)
    try:
        while not (stop and stop.is_set()):
            running = [t for t in running if t.is_alive()]
            ready = len(running) < limit() and time.monotonic() >= max(put_back, default=0.0)
            job = claim(store) if ready else None
            if job is not None:
                thread = threading.Thread(
                    target=_one,
                    args=(settings, run, job, finished),
                    name=f"interview-{job.interview_id}",
                    daemon=True,
                )
                thread.start()
                running.append(thread)
                continue
            if not running and not keep_waiting:
                break
            time.sleep(IDLE_S if running else settings.poll_seconds)
    finally:  # on Ctrl-C the threads are not waited for: their jobs go back to the queue
        store.close()
    for thread in running:
        thread.join()


def _one(settings: Settings, run: Run, job: Job, done) -> None:
    store = Store(settings.database)
    try:
        finished = run(store, job)
    except Exception:
        log.exception("interview %s stopped in its thread", job.interview_id)
        return
    finally:
        store.close()
    if done:
        done(finished)
