"""One lock for every writer of an interview's reviewed.json.

The review page, the review text file, `withhold` and `translate --pending` all read, change
and rewrite reviewed.json; each does so holding this lock, so no writer's change is lost to
another's older copy. An advisory ``flock`` on a file beside reviewed.json: released by the
kernel when a process dies, so a crash never leaves the interview locked.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".reviewed.lock"


@contextmanager
def reviewed_lock(folder: Path) -> Iterator[None]:
    """Hold the interview folder's reviewed.json lock (blocking) for the ``with`` block.

    Not re-entrant: take it once around the whole read-change-write.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
