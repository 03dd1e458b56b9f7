"""Heartbeats: a piece whose decoder died is sent again within about a minute.

Without them, a piece taken by a machine that then died waits in Redis for ``visibility_timeout``
(two hours by default) before kombu puts it back. With them:

- every decoding process keeps ``testimony:alive:<node>/<pid>`` in Redis, naming the pieces (task
  IDs) it holds, refreshed every third of ``[cluster] heartbeat_seconds`` and expiring after it;
- while it decodes a piece, ``testimony:held:<task ID>`` names its holder and the message's
  delivery tag;
- the coordinator looks every few seconds at the pieces it waits for: one whose holder's heartbeat
  has expired is put back at the head of its queue (kombu's own ``restore_by_tag``: the very same
  message, so the same task ID, and a result that comes back twice is still stored once).

``visibility_timeout`` stays as the last resort, for a piece lost between delivery and the start
of its decoding (a fraction of a second).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from contextlib import contextmanager

log = logging.getLogger(__name__)

PREFIX = "testimony"
HELD_EXPIRES_S = 7 * 86400  # a held record outlives any piece; it is deleted when the piece ends


def alive_key(holder: str) -> str:
    return f"{PREFIX}:alive:{holder}"


def held_key(task_id: str) -> str:
    return f"{PREFIX}:held:{task_id}"


class Heartbeat:
    """One decoding process's heartbeat (made after the fork, in the process that decodes)."""

    def __init__(self, url: str, node: str, seconds: float):
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        self.holder = f"{node}/{os.getpid()}"
        self.seconds = seconds
        self.pieces: dict[str, str | None] = {}  # task ID -> delivery tag
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self.thread.start()

    @contextmanager
    def holding(self, task_id: str, delivery_tag: str | None):
        """Name the piece in this process's heartbeat while the block runs."""
        with self.lock:
            self.pieces[task_id] = delivery_tag
        self._beat()
        try:
            yield
        finally:
            with self.lock:
                self.pieces.pop(task_id, None)
            self._quietly(lambda: self.client.delete(held_key(task_id)))
            self._beat()

    def _run(self) -> None:
        while True:
            time.sleep(self.seconds / 3)
            self._beat()

    def _beat(self) -> None:
        with self.lock:
            pieces = dict(self.pieces)

        def send():
            pipe = self.client.pipeline(transaction=False)
            pipe.set(
                alive_key(self.holder), json.dumps(sorted(pieces)), ex=max(1, round(self.seconds))
            )
            for task_id, tag in pieces.items():
                pipe.set(
                    held_key(task_id),
                    json.dumps({"holder": self.holder, "tag": tag}),
                    ex=HELD_EXPIRES_S,
                )
            pipe.execute()

        self._quietly(send)

    def _quietly(self, call) -> None:
        """A broker that is briefly away costs a missed beat, never the piece being decoded."""
        import redis

        try:
            call()
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("heartbeat not sent (%s); the broker may be restarting", type(exc).__name__)


_mine: Heartbeat | None = None


def for_this_process(url: str, node: str, seconds: float) -> Heartbeat:
    """This process's heartbeat, started on first use (a forked pool process makes its own)."""
    global _mine
    if _mine is None or _mine.holder != f"{node}/{os.getpid()}":
        _mine = Heartbeat(url, node, seconds)
    return _mine


def resend_orphans(app, task_ids: list[str]) -> dict[str, str]:
    """Put back in their queue the pieces among ``task_ids`` whose holder stopped beating.

    Returns the task IDs put back, each with the holder that stopped. The message is moved from kombu's unacknowledged set to the
    head of its queue in one Redis transaction, so a piece is never both waiting and held.
    """
    if not task_ids:
        return {}
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        client = channel.client
        records = client.mget([held_key(t) for t in task_ids])
        orphans = {}
        for task_id, record in zip(task_ids, records):
            if record is None:
                continue
            held = json.loads(record)
            if client.exists(alive_key(held["holder"])):
                continue
            if held.get("tag"):
                channel.qos.restore_by_tag(held["tag"])
            client.delete(held_key(task_id))
            orphans[task_id] = held["holder"]
        return orphans
