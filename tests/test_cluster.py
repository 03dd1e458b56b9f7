"""Several machines: a real redis-server on a loopback port, real `testimony worker` processes,
and the coordinator (`testimony process` / `watch`) as real processes, all with the tiny model.

Each interview spans several pieces (``piece_seconds`` is small here). In every case each piece
is recorded exactly once in the custody log and the transcripts equal those of a
single-machine run with the same engine and settings (greedy decoding is deterministic).
"""

from __future__ import annotations

import json
import shutil
import signal
from collections import Counter

import pytest

from pipeline import config

from builders import tiny_whisper_checkpoint
from cluster_lab import (  # noqa: F401  (checkpoint, interviews, procs, reference: fixtures)
    PASSWORD,
    Proc,
    Redis,
    assert_each_piece_once,
    checkpoint,
    decoded,
    events,
    interviews,
    make_home,
    pieces,
    procs,
    reference,
    run,
    start_worker,
    transcripts,
)
from conftest import drop, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("espeak-ng") is None,
    reason="needs redis-server and espeak-ng (apt install redis-server espeak-ng)",
)


def test_two_workers_share_several_interviews(tmp_path, procs, interviews, reference, checkpoint):
    redis = procs(Redis, tmp_path / "redis").start()
    workers_home = make_home(tmp_path / "workers", checkpoint)
    w1 = start_worker(procs, tmp_path, workers_home, "w1", redis)
    w2 = start_worker(procs, tmp_path, workers_home, "w2", redis)
    coordinator = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url())

    result = run(coordinator, "process", *interviews)
    assert result.returncode == 0, result.stdout + result.stderr
    assert transcripts(coordinator) == reference
    found = assert_each_piece_once(coordinator, 3)
    by = Counter(e["worker"].split("@")[0] for entries in found.values() for e in entries)
    assert set(by) == {"w1", "w2"}, by  # both machines took pieces
    assert not (coordinator / "work").exists() or not any((coordinator / "work").iterdir())

    # Several interviews in flight: a second interview's pieces came back before the first was done.
    kinds = events(coordinator)
    first_done = next(i for i, (kind, _, _) in enumerate(kinds) if kind == "processed")
    assert len({iid for kind, iid, _ in kinds[:first_done] if kind == "piece"}) >= 2

    status = run(coordinator, "status")
    assert (
        "2 worker(s) connected" in status.stdout
        and "w1@" in status.stdout
        and "w2@" in status.stdout
    )
    log = (coordinator / "testimony.log").read_text() + w1.text() + w2.text()
    assert PASSWORD not in log and "қалада" not in log  # no password, no transcript text in logs

    # Transcribed again in another language: the pieces go to the workers, the old one is kept.
    [out] = [
        p.parent
        for p in (coordinator / "outbox").glob("*/*/transcript.json")
        if json.loads(p.read_text())["source"]["file"] == interviews[2].name
    ]
    name = out.name
    again = run(coordinator, "retranscribe", name, "--language", "ru")
    assert again.returncode == 0, again.stdout + again.stderr
    runs = {}
    for entry in pieces(coordinator)[name]:
        runs.setdefault(entry["key"], []).append(entry)
    assert len(runs) == 2
    assert all(sorted(e["piece"] for e in r) == list(range(len(r))) for r in runs.values())
    assert {e["worker"].split("@")[0] for r in runs.values() for e in r} <= {"w1", "w2"}
    assert json.loads((out / "transcript.json").read_text())["language"] == "ru"
    assert (out / "versions" / "1" / "transcript.json").exists()


def test_worker_killed_mid_piece(tmp_path, procs, interviews, reference, checkpoint):
    """Default settings: the piece comes back through the heartbeat, not visibility_timeout (2 h)."""
    assert config.load(tmp_path).visibility_timeout == config.Settings.visibility_timeout >= 3600
    redis = procs(Redis, tmp_path / "redis").start()
    workers_home = make_home(tmp_path / "workers", checkpoint)
    doomed = start_worker(procs, tmp_path, workers_home, "doomed", redis)
    coordinator = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url())
    run_ = procs(Proc, coordinator, ["process", str(interviews[1])], tmp_path / "coordinator.out")

    taken = wait_until(
        lambda: list(decoded(doomed)), 120, interval=0.02, what="the worker to start a piece"
    )[0]
    doomed.kill(signal.SIGKILL)  # the whole machine gone: worker and its pool, mid-piece
    assert "decoded %s piece %d" % taken not in doomed.text()
    survivor = start_worker(procs, tmp_path, workers_home, "survivor", redis)

    assert run_.wait() == 0, run_.text()
    assert transcripts(coordinator) == {interviews[1].name: reference[interviews[1].name]}
    found = assert_each_piece_once(coordinator, 1)
    by_piece = {e["piece"]: e["worker"] for e in found[taken[0]]}
    assert by_piece[taken[1]].startswith("survivor@")  # redelivered after its worker died
    assert decoded(survivor)[taken] == 1
    assert "sent again: its decoder doomed@" in (coordinator / "testimony.log").read_text()


def test_redis_restarted_mid_run(tmp_path, procs, interviews, reference, checkpoint):
    redis = procs(Redis, tmp_path / "redis").start()
    workers_home = make_home(tmp_path / "workers", checkpoint)
    worker = start_worker(procs, tmp_path, workers_home, "w1", redis)
    coordinator = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url())
    run_ = procs(
        Proc, coordinator, ["process", *map(str, interviews[:2])], tmp_path / "coordinator.out"
    )

    wait_until(
        lambda: sum(decoded(worker).values()) >= 2,
        120,
        interval=0.05,
        what="pieces to be under way",
    )
    redis.stop()
    redis.start()

    assert run_.wait() == 0, run_.text()
    expected = {p.name: reference[p.name] for p in interviews[:2]}
    assert transcripts(coordinator) == expected
    assert_each_piece_once(coordinator, 2)


def test_coordinator_killed_and_restarted(tmp_path, procs, interviews, reference, checkpoint):
    redis = procs(Redis, tmp_path / "redis").start()
    workers_home = make_home(tmp_path / "workers", checkpoint)
    worker = start_worker(procs, tmp_path, workers_home, "w1", redis)
    coordinator = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url())
    first = procs(Proc, coordinator, ["watch"], tmp_path / "watch1.out")
    for path in interviews:
        drop(path, coordinator / "inbox")

    wait_until(
        lambda: sum(map(len, pieces(coordinator).values())) >= 2,
        180,
        interval=0.05,
        what="some pieces to be stored",
    )
    first.kill(signal.SIGKILL)
    done_before = {(i, e["piece"]) for i, entries in pieces(coordinator).items() for e in entries}
    second = procs(Proc, coordinator, ["watch"], tmp_path / "watch2.out")

    wait_until(lambda: len(transcripts(coordinator)) == 3, 240, what="all three transcripts")
    second.kill(signal.SIGTERM)
    assert transcripts(coordinator) == reference
    assert_each_piece_once(coordinator, 3)
    runs = decoded(worker)
    assert all(runs[piece] == 1 for piece in done_before), runs  # nothing already done ran twice


def test_a_worker_without_the_model_leaves_the_piece_for_one_that_has_it(
    tmp_path, procs, interviews, reference, checkpoint
):
    redis = procs(Redis, tmp_path / "redis").start()
    empty = tmp_path / "empty"
    empty.mkdir()
    none = run(empty, "worker", "--broker", redis.url())
    assert none.returncode == 1 and "no Whisper models" in none.stderr

    # This worker listed the model when it started, then its file was replaced by another model.
    stale_home = make_home(tmp_path / "stale", checkpoint)
    stale = start_worker(procs, tmp_path, stale_home, "stale", redis)
    tiny_whisper_checkpoint(stale_home / "models" / "whisper" / "tiny.pt", seed=1)
    coordinator = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url())
    run_ = procs(Proc, coordinator, ["process", str(interviews[2])], tmp_path / "coordinator.out")

    wait_until(lambda: "refusing" in stale.text(), 120, what="the stale worker to refuse the piece")
    assert "no longer has SHA-256" in stale.text()
    status = wait_until(
        lambda: (s := run(coordinator, "status").stdout) and "waiting for a worker" in s and s,
        120,
        what="status to say it is waiting for a worker",
    )
    assert "1 worker(s) connected" in status and run_.proc.poll() is None  # waiting, not failed

    good = start_worker(procs, tmp_path, make_home(tmp_path / "good", checkpoint), "good", redis)
    assert run_.wait() == 0, run_.text()
    assert transcripts(coordinator) == {interviews[2].name: reference[interviews[2].name]}
    found = assert_each_piece_once(coordinator, 1)
    assert {e["worker"].split("@")[0] for entries in found.values() for e in entries} == {"good"}
    assert "decoded" not in stale.text()
    assert decoded(good)
