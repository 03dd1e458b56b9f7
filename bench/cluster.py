"""Several machines on one: the wall time of an interview, or a queue of them, on 1 and 2 workers.

    python bench/cluster.py [--minutes 30] [--interviews 1] [--engine faster-whisper]
                            [--model base|tiny] [--piece-seconds 600] [--language kk]
                            [--evaldata ../shared/evaldata] [--out bench-out/cluster]

``--interviews N`` cuts the assembled audio into N interviews of equal length, processed as one
queue by one `testimony process`; then a third run, 2 workers with ``interviews_in_flight = 1``,
shows what keeping several interviews in flight (the default) adds.

Starts its own redis-server (loopback, password, append-only file) and real `testimony worker`
processes, each single-threaded (``--concurrency 1 --threads 1``), then times `testimony process`
as coordinator on an interview assembled by bench/make_interview.py from the Kazakh dev clips.
``--model tiny`` uses the random-weight tiny model of tests/builders.py (plumbing cost only);
``base`` is the embedded Whisper base. Workers are started and ready before the clock starts.

Reports audio hours per hour with 1 and 2 workers, the wall times, and the scaling efficiency
(time on 1 worker / (2 x time on 2 workers)). A job's pieces are the unit of spreading, so an
interview of P pieces on W workers takes ceil(P / W) rounds at best.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

PASSWORD = "bench-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def testimony(home: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        env={**os.environ, "TESTIMONY_HOME": str(home)},
        **kw,
    )


def wait_for(predicate, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


def make_home(
    root: Path, args, broker: str | None, models: Path | None, in_flight: int = 0
) -> Path:
    root.mkdir(parents=True)
    text = (
        f'[asr]\nengine = "{args.engine}"\nmodel = "{args.model}"\ntemperature_fallback = false\n'
        f"threads = 1\npiece_seconds = {args.piece_seconds}\n"
        # Speaker turns run on the coordinator after the pieces return; they are measured on
        # their own (`testimony bench speakers`), so this times transcription alone.
        "\n[speakers]\nenabled = false\n"
    )
    if broker:
        text += f'\n[cluster]\nbroker = "{broker}"\ninterviews_in_flight = {in_flight}\n'
    (root / "testimony.toml").write_text(text)
    if models:
        (root / "models").symlink_to(models)
    return root


def prepare_models(folder: Path, args) -> Path:
    from pipeline import config, models

    home = make_home(folder / "models-home", args, None, None)
    settings = config.load(home)
    settings.ensure_dirs()
    if args.model == "tiny":
        from builders import tiny_whisper_checkpoint

        models.add_model(settings, tiny_whisper_checkpoint(folder / "tiny.pt"), name="tiny")
    models.resolve_for_engine(settings, args.engine, args.model)  # builds what the engine loads
    return settings.models


def split(wav: Path, parts: int) -> list[Path]:
    """The recording cut into ``parts`` interviews of equal length (each its own file and hash)."""
    if parts == 1:
        return [wav]
    with wave.open(str(wav), "rb") as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    step = len(frames) // parts // 2 * 2
    made = []
    for n in range(parts):
        path = wav.with_name(f"interview-{n + 1}.wav")
        with wave.open(str(path), "wb") as w:
            w.setparams(params)
            w.writeframes(frames[n * step : (n + 1) * step])
        made.append(path)
    return made


def timed_run(
    folder: Path,
    args,
    broker: str,
    models: Path,
    wavs: list[Path],
    workers: int,
    in_flight: int = 0,
) -> float:
    home = make_home(folder / f"coordinator-{workers}-{in_flight}", args, broker, models, in_flight)
    procs = []
    try:
        for n in range(workers):
            log = open(folder / f"worker-{workers}-{n}.out", "wb")
            procs.append(
                (
                    testimony(
                        home,
                        "worker",
                        "--concurrency",
                        "1",
                        "--threads",
                        "1",
                        "--device",
                        "cpu",
                        "--name",
                        f"bench{workers}-{n}@%h",
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    ),
                    log,
                )
            )
        for _, log in procs:
            wait_for(
                lambda p=Path(log.name): "ready." in p.read_text(errors="replace"),
                "a worker to start",
            )
        start = time.monotonic()
        run = testimony(
            home,
            "process",
            "--case",
            "BENCH-1",
            "--language",
            args.language,
            *map(str, wavs),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if run.wait() != 0:
            raise SystemExit(f"testimony process failed; see {home / 'testimony.log'}")
        return time.monotonic() - start
    finally:
        for proc, log in procs:
            proc.terminate()
            proc.wait(timeout=120)
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument(
        "--interviews", type=int, default=1, help="cut the audio into this many interviews"
    )
    parser.add_argument(
        "--engine", default="faster-whisper", choices=("faster-whisper", "openai-whisper")
    )
    parser.add_argument("--model", default="base", choices=("base", "tiny"))
    parser.add_argument("--piece-seconds", type=float, default=600)
    # Known language: every piece goes out at once. Unknown, the first piece is decoded (and its
    # language detected) before the others are sent, as on one machine.
    parser.add_argument("--language", default="kk")
    parser.add_argument(
        "--evaldata",
        type=Path,
        default=Path(os.environ.get("TESTIMONY_EVALDATA", ROOT.parent / "shared" / "evaldata")),
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "cluster")
    args = parser.parse_args()
    import make_interview

    from pipeline import media

    args.out.mkdir(parents=True, exist_ok=True)
    make_interview.MINUTES = args.minutes
    make_interview.main(args.evaldata / "kk", args.out / "speed")
    wav = args.out / "speed" / "interview.wav"
    seconds = media.wav_seconds(wav)

    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    port = free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--requirepass",
            PASSWORD,
        ],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://:{PASSWORD}@127.0.0.1:{port}"
    try:
        models = prepare_models(folder, args)
        # A Redis database of its own per run: piece results are keyed by interview and piece,
        # so a second run on the same Redis would collect the first run's results, not decode.
        wavs = split(wav, args.interviews)
        times = {w: timed_run(folder, args, f"{redis_url}/{w}", models, wavs, w) for w in (1, 2)}
        if args.interviews > 1:  # the same queue one interview at a time, as before in-flight
            one_at_a_time = timed_run(folder, args, f"{redis_url}/3", models, wavs, 2, in_flight=1)
    finally:
        redis.terminate()
        redis.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    each = max(1, math.ceil(seconds / args.interviews / args.piece_seconds - 1e-9))
    pieces = args.interviews * each
    result = {
        "audio_s": round(seconds, 1),
        "engine": args.engine,
        "model": args.model,
        "language": args.language,
        "interviews": args.interviews,
        "piece_seconds": args.piece_seconds,
        "pieces": pieces,
        "cpu_cores": os.cpu_count(),
        "wall_s": {str(w): round(t, 1) for w, t in times.items()},
        "audio_hours_per_hour": {str(w): round(seconds / t, 2) for w, t in times.items()},
        "scaling_efficiency": round(times[1] / (2 * times[2]), 2),
    }
    if args.interviews > 1:
        result["wall_s_2_one_at_a_time"] = round(one_at_a_time, 1)
        result["scaling_efficiency_one_at_a_time"] = round(times[1] / (2 * one_at_a_time), 2)
    (args.out / "cluster.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{seconds / 60:.1f} minutes of audio in {args.interviews} interview(s), {args.engine} "
        f"{args.model}, greedy, pieces of {args.piece_seconds:g} s, single-threaded workers, {os.cpu_count()} cores\n"
    )
    print("| workers | wall time (s) | audio hours per hour |\n|---|---|---|")
    for w, t in times.items():
        print(f"| {w} | {t:.1f} | {seconds / t:.2f} |")
    if args.interviews > 1:
        print(
            f"| 2, one interview at a time | {one_at_a_time:.1f} | {seconds / one_at_a_time:.2f} |"
        )
    print(
        f"\nscaling efficiency with 2 workers: {result['scaling_efficiency']:.2f}"
        + (
            f" (one interview at a time: {result['scaling_efficiency_one_at_a_time']:.2f})"
            if args.interviews > 1
            else ""
        )
    )


if __name__ == "__main__":
    main()
