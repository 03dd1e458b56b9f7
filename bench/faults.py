"""Faults survived, measured: kills, a full disk, floods of files, two watchers, long audio.

Runs real `testimony` processes on throw-away home folders (a tiny random-weight Whisper model
and a tiny Argos package, built in code, so that each trial takes seconds) and prints a table
of trials, failures, originals lost or altered, and outputs left corrupt. The aim is zero in
the last two columns. Not a test: it takes minutes and reports figures.

    python bench/faults.py [--kills 50] [--flood 100] [--long-minutes 120] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from fault_lab import (  # bench/, first on the path when this script runs
    CLIPS,
    EVALDATA,
    ROOT,
    STUCK,
    Lab,
    audit,
    first_to_exit,
    jobs,
    make_inputs,
    peak_rss,
    processed_counts,
    settle_all,
    sha,
    stop,
    testimony,
)

from pipeline import config  # noqa: E402

from builders import ffmpeg  # noqa: E402

# Scenarios ---------------------------------------------------------------------------------


def kill_moment(home: config.Settings, target: str, expected: int) -> str:
    """Wait for the watcher to reach ``target`` (a stage, intake, or any moment); say where it is."""
    deadline = time.monotonic() + (
        random.uniform(0, 1.0)
        if target == "intake"
        else random.uniform(0, 8.0)
        if target == "anytime"
        else 20
    )
    while time.monotonic() < deadline:
        running = [j for j in jobs(home) if j.state == "running"] if home.database.exists() else []
        if target not in ("intake", "anytime") and any(j.stage == target for j in running):
            break
        time.sleep(0.01)
    current = jobs(home) if home.database.exists() else []
    running = [j.stage for j in current if j.state == "running"]
    if running:
        return running[0] or "starting"
    return "intake" if len(current) < expected else "between jobs"


def kills(lab: Lab, trials: int) -> dict:
    inputs = make_inputs(lab.scratch / "kill-inputs", 2)
    where: Counter = Counter()
    failures = lost = corrupt = 0
    problems: list[str] = []
    for trial in range(trials):
        home = lab.home()
        dropped = {p.name: sha(p) for p in inputs}
        watcher = testimony(home, "watch")
        time.sleep(random.uniform(3.0, 4.0))  # the watcher is up (imports take ~3 s)
        for p in inputs:
            shutil.copyfile(p, home.inbox / p.name)
        target = random.choice(["intake", "audio", "transcribe", "translate", "write", "anytime"])
        stage = kill_moment(home, target, len(inputs))
        where[stage] += 1
        watcher.send_signal(signal.SIGKILL)
        watcher.wait()
        ok = settle_all(home, len(inputs), timeout=120)
        counts = processed_counts(home)
        if (
            not ok
            or any(j.state != "done" for j in jobs(home))
            or any(c != 1 for c in counts.values())
            or len(counts) != len(inputs)
        ):
            failures += 1
            problems.append(
                f"trial {trial}: states {[j.state for j in jobs(home)]}, processed {dict(counts)}"
            )
        gone, bad, found = audit(home, dropped)
        lost, corrupt = lost + gone, corrupt + bad
        problems += found
        shutil.rmtree(home.home, ignore_errors=True)
        print(f"  kill trial {trial + 1}/{trials}: killed during {stage}", file=sys.stderr)
    return {
        "name": f"SIGKILL at random moments ({', '.join(f'{k} {v}' for k, v in sorted(where.items()))})",
        "trials": trials,
        "failures": failures,
        "lost": lost,
        "corrupt": corrupt,
        "problems": problems,
    }


def disk_full(lab: Lab) -> dict:
    mount = lab.scratch / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40M", "tmpfs", str(mount)]).returncode:
        return {
            "name": "disk full mid-job (skipped: cannot mount tmpfs)",
            "trials": 0,
            "failures": 0,
            "lost": 0,
            "corrupt": 0,
            "problems": [],
        }
    failures = lost = corrupt = 0
    problems: list[str] = []
    sample = ROOT / "samples" / "KZ-0001_sample-interview.mp4"
    leaves = [0, 600_000, sample.stat().st_size + 600_000, sample.stat().st_size + 2_400_000]
    try:
        for (
            leave
        ) in leaves:  # no room for the original / for its copy / for the audio / for outputs
            root = mount / f"home-{leave}"
            root.mkdir()
            home = lab.home(root)
            filler = root / "filler.bin"
            with open(filler, "wb") as fh:
                fh.write(b"\0" * max(shutil.disk_usage(root).free - leave, 0))
            shutil.copyfile(sample, lab.scratch / sample.name)
            watcher = testimony(home, "watch")
            try:
                shutil.copyfile(sample, home.inbox / sample.name)
            except OSError:
                pass  # the drop itself did not fit: what a person sees on a full USB stick
            time.sleep(8)
            stop(watcher)
            filler.unlink()
            if (
                not (home.inbox / sample.name).exists()
                or (home.inbox / sample.name).stat().st_size != sample.stat().st_size
            ):
                shutil.copyfile(sample, home.inbox / sample.name)  # the person copies it again
            ok = settle_all(home, 1, timeout=120)
            if not ok or [j.state for j in jobs(home)] != ["done"]:
                failures += 1
                problems.append(f"leave {leave}: {[(j.state, j.error) for j in jobs(home)]}")
            gone, bad, found = audit(home, {sample.name: sha(sample)})
            lost, corrupt, problems = lost + gone, corrupt + bad, problems + found
            shutil.rmtree(root, ignore_errors=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)])
    return {
        "name": "disk full at intake, audio and output, then freed",
        "trials": len(leaves),
        "failures": failures,
        "lost": lost,
        "corrupt": corrupt,
        "problems": problems,
    }


def flood(lab: Lab, count: int) -> dict:
    home = lab.home()
    inputs = make_inputs(lab.scratch / "flood-inputs", count + 5, seconds=1.0)
    dropped = {p.name: sha(p) for p in inputs}
    for p in inputs[:count]:
        shutil.copyfile(p, home.inbox / p.name)

    def slow_copy(p: Path) -> None:  # still being copied while the watcher runs
        data = p.read_bytes()
        with open(home.inbox / p.name, "wb") as fh:
            for i in range(0, len(data), 2048):
                fh.write(data[i : i + 2048])
                fh.flush()
                time.sleep(0.2)

    copiers = [threading.Thread(target=slow_copy, args=(p,)) for p in inputs[count:]]
    for t in copiers:
        t.start()
    ok = settle_all(home, len(inputs), timeout=60 + 6 * len(inputs))
    for t in copiers:
        t.join()
    counts = processed_counts(home)
    failures = (not ok) + sum(c != 1 for c in counts.values()) + (len(counts) != len(inputs))
    lost, corrupt, problems = audit(home, dropped)
    return {
        "name": f"{count} files at once + 5 dropped while still copying",
        "trials": len(inputs),
        "failures": failures,
        "lost": lost,
        "corrupt": corrupt,
        "problems": problems,
    }


def two_watchers(lab: Lab) -> dict:
    home = lab.home()
    inputs = make_inputs(lab.scratch / "two-inputs", 10, seconds=1.0)
    pair = [testimony(home, "watch"), testimony(home, "watch")]
    for p in inputs:
        shutil.copyfile(p, home.inbox / p.name)
    # Started together, either may win the lock: the scheduler decides, more so on a busy machine.
    # A refusal slower than the deadline is a failure in the table, not a crash.
    loser = first_to_exit(pair, timeout=300)
    problems = (
        []
        if loser is not None and loser.returncode == 1
        else [
            "neither watcher refused within 300 s"
            if loser is None
            else f"a watcher exited with code {loser.returncode}"
        ]
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        len(jobs(home)) == len(inputs) and all(j.state == "done" for j in jobs(home))
    ):
        time.sleep(0.3)
    for watcher in pair:
        stop(watcher)
    counts = processed_counts(home)
    if len(counts) != len(inputs):
        problems.append(f"{len(counts)} of {len(inputs)} recordings processed within 300 s")
    failures = len(problems) + sum(c != 1 for c in counts.values())
    lost, corrupt, found = audit(home, {p.name: sha(p) for p in inputs})
    problems += found
    return {
        "name": "two watchers on one home folder (one refused)",
        "trials": len(inputs),
        "failures": failures,
        "lost": lost,
        "corrupt": corrupt,
        "problems": problems,
    }


def long_audio(lab: Lab, minutes: list[int]) -> tuple[dict, list[str]]:
    lines = []
    failures = 0
    for m in minutes:
        home = lab.home()
        path = lab.scratch / f"KZ-LONG-{m}_interview.m4a"
        ffmpeg(
            "-stream_loop",
            "-1",
            "-i",
            str(CLIPS[0]),
            "-t",
            str(m * 60),
            "-ac",
            "1",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            str(path),
        )
        started = time.monotonic()
        peak, rc = peak_rss(home, "process", str(path), "--language", "kk")
        failures += rc != 0
        lines.append(f"| {m} min | {peak / 1024:.0f} MiB | {time.monotonic() - started:.0f} s |")
        shutil.rmtree(home.home, ignore_errors=True)
        path.unlink()
    return (
        {
            "name": f"long audio ({', '.join(f'{m} min' for m in minutes)}), peak memory below",
            "trials": len(minutes),
            "failures": failures,
            "lost": 0,
            "corrupt": 0,
            "problems": [],
        },
        lines,
    )


def main() -> int:
    if not CLIPS:
        sys.exit(
            f"no speech clips under {EVALDATA}/kk; set TESTIMONY_EVALDATA to the evaluation data"
        )
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--flood", type=int, default=100)
    parser.add_argument("--long-minutes", type=int, nargs="*", default=[10, 120])
    parser.add_argument("--only", nargs="*", choices=["kills", "disk", "flood", "watchers", "long"])
    args = parser.parse_args()
    only = set(args.only or ["kills", "disk", "flood", "watchers", "long"])
    random.seed(1)
    rows, memory = [], []
    print("| scenario | trials | failures | originals lost or altered | outputs left corrupt |")
    print("|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="faults-") as scratch:
        lab = Lab(Path(scratch))
        scenarios = {
            "kills": lambda: kills(lab, args.kills),
            "disk": lambda: disk_full(lab),
            "flood": lambda: flood(lab, args.flood),
            "watchers": lambda: two_watchers(lab),
        }
        for name, run in scenarios.items():
            if name in only:
                rows.append(run())
                r = rows[-1]
                print(
                    f"| {r['name']} | {r['trials']} | {r['failures']} | {r['lost']} | {r['corrupt']} |",
                    flush=True,
                )
        if "long" in only:
            row, memory = long_audio(lab, args.long_minutes)
            rows.append(row)
            print(f"| {row['name']} | {row['trials']} | {row['failures']} | 0 | 0 |", flush=True)
    if memory:
        print("\n| interview length | peak RSS of `testimony process` | wall time |\n|---|---|---|")
        print("\n".join(memory))
    if STUCK:
        print(f"\n{len(STUCK)} watcher(s) did not stop within 30 s of SIGTERM and were killed")
    for r in rows:
        for p in r["problems"][:10]:
            print(f"- {r['name']}: {p}")
    return 1 if any(r["lost"] or r["corrupt"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
