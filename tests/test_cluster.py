"""Several machines: a real redis-server on a loopback port, real `testimony worker` processes,
and the coordinator (`testimony process` / `watch`) as real processes, all with the tiny model.

Each interview spans several pieces (``piece_seconds`` is small here). In every case each piece
is recorded exactly once in the custody log and the transcripts equal those of a
single-machine run with the same engine and settings (greedy decoding is deterministic).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pipeline import config, models
from pipeline.cluster import broker

from builders import tiny_whisper_checkpoint
from conftest import FAST_SETTINGS, ROOT, drop, free_port, wait_until

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("espeak-ng") is None,
                                reason="needs redis-server and espeak-ng (apt install redis-server espeak-ng)")

PASSWORD = "s3cret-test-password"
# Forty tokens a window, not builders' dozen: a piece must take long enough to decode for a test
# to kill its worker, or the broker, while the piece is under way.
SLOW_END = 40
SENTENCES = ["Менің ағам қалада тұрады.", "Оны түнде алып кетті.", "Біз содан бері хабар алмадық.",
             "Ол мұғалім болып істеді.", "Балалары үйде күтіп отыр.", "Хат жазып көрдік, жауап жоқ.",
             "Көршілер ештеңе айтпайды."]


class Redis:
    """redis-server on a free loopback port, persisting every write (appendonly, fsync always)."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.proc = folder, free_port(), None
        folder.mkdir(parents=True, exist_ok=True)

    def url(self, password: str = PASSWORD) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self) -> "Redis":
        self.log = open(self.folder / "redis.out", "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--requirepass", PASSWORD],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._answers, 30, what="redis-server to answer")
        return self

    def _answers(self) -> bool:
        try:
            broker.preflight(self.url())
            return True
        except broker.BrokerError:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # a clean shutdown; the append-only file already holds every write
            self.proc.wait(timeout=30)
            self.log.close()


class Proc:
    """A `testimony ...` command as its own process group (killed with everything it started)."""

    def __init__(self, home: Path, args: list[str], log: Path):
        self.log_path = log
        self.out = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT,
                                     env={**os.environ, "TESTIMONY_HOME": str(home)},
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=90)
        self.out.close()

    def wait(self, timeout: float = 300) -> int:
        rc = self.proc.wait(timeout=timeout)
        self.out.close()
        return rc


@pytest.fixture
def procs(tmp_path):
    """Start processes that are all killed at the end, whatever happens."""
    started: list[Proc | Redis] = []

    def start(kind, *args, **kwargs):
        proc = kind(*args, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop() if isinstance(proc, Redis) else proc.kill()


def make_home(root: Path, checkpoint: Path, broker: str | None = None) -> Path:
    """A home with the default [cluster] settings (visibility_timeout, heartbeat_seconds)."""
    root.mkdir(parents=True, exist_ok=True)
    text = FAST_SETTINGS + "piece_seconds = 6\nthreads = 1\n"
    if broker:
        text += f'\n[cluster]\nbroker = "{broker}"\n'
    (root / config.SETTINGS_FILE).write_text(text)
    settings = config.load(root)
    settings.ensure_dirs()
    models.add_model(settings, checkpoint, name="tiny")
    return root


@pytest.fixture(scope="module")
def interviews(tmp_path_factory) -> list[Path]:
    """Three spoken Kazakh "interviews" of 14-22 s, with pauses between sentences."""
    folder = tmp_path_factory.mktemp("interviews")
    made = []
    for n, count in enumerate((5, 7, 4)):
        text = "<break time='1200ms'/>".join((SENTENCES[n:] + SENTENCES[:n])[:count])
        path = folder / f"KZ-000{n + 1}_talk{n + 1}.wav"
        subprocess.run(["espeak-ng", "-v", "kk", "-m", "-w", str(path), f"<speak>{text}</speak>"], check=True)
        made.append(path)
    return made


def run(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TESTIMONY_HOME": str(home)}, timeout=timeout)


def transcripts(home: Path) -> dict[str, dict]:
    found = {}
    for path in (home / "outbox").glob("*/*/transcript.json"):
        data = json.loads(path.read_text())
        found[data["source"]["file"]] = {"language": data["language"], "segments": data["segments"]}
    return found


@pytest.fixture(scope="module")
def reference(tmp_path_factory, interviews) -> dict[str, dict]:
    """The transcripts of a single-machine run (no broker) with the same model and settings."""
    checkpoint = tiny_whisper_checkpoint(tmp_path_factory.mktemp("whisper") / "tiny.pt",
                                         end_at=SLOW_END)
    home = make_home(tmp_path_factory.mktemp("single"), checkpoint)
    result = run(home, "process", *interviews)
    assert result.returncode == 0, result.stdout + result.stderr
    found = transcripts(home)
    assert len(found) == 3 and all(len(t["segments"]) >= 2 for t in found.values())
    return found


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_whisper_checkpoint(tmp_path_factory.mktemp("whisper-cluster") / "tiny.pt",
                                   end_at=SLOW_END)


def pieces(home: Path) -> dict[str, list[dict]]:
    """Custody entries of decoded pieces, per interview."""
    try:  # read-only: never create the coordinator's database before it does
        db = sqlite3.connect(f"file:{home / 'testimony.db'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT interview_id, detail FROM events WHERE kind='piece' ORDER BY id").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:  # not made yet
        rows = []
    found: dict[str, list[dict]] = {}
    for interview, detail in rows:
        found.setdefault(interview, []).append(json.loads(detail))
    return found


def events(home: Path) -> list[tuple[str, str, dict]]:
    """(kind, interview, detail) of every custody entry, oldest first."""
    db = sqlite3.connect(f"file:{home / 'testimony.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, interview_id, detail FROM events ORDER BY id").fetchall()
    finally:
        db.close()
    return [(kind, iid, json.loads(detail)) for kind, iid, detail in rows]


def assert_each_piece_once(home: Path, expected_interviews: int) -> dict[str, list[dict]]:
    found = pieces(home)
    assert len(found) == expected_interviews
    for interview, entries in found.items():
        numbers = [e["piece"] for e in entries]
        assert sorted(numbers) == list(range(len(numbers))), (interview, numbers)  # none lost, none twice
        assert len(numbers) >= 2
        for e in entries:
            assert e["host"] == socket.gethostname() and e["engine"] == "openai-whisper" and e["device"] == "cpu"
            assert len(e["model_sha256"]) == 64
    return found


def decoded(worker: Proc) -> Counter:
    """How many times a worker started decoding each (interview, piece)."""
    found = Counter()
    for line in worker.text().splitlines():
        if "decoding " in line and " piece " in line:
            interview, piece = line.split("decoding ", 1)[1].split(" piece ")
            found[(interview.strip(), int(piece.split()[0]))] += 1
    return found


def start_worker(procs, tmp_path: Path, home: Path, name: str, redis: Redis) -> Proc:
    worker = procs(Proc, home, ["worker", "--broker", redis.url(), "--device", "auto", "--name",
                                f"{name}@{socket.gethostname()}"], tmp_path / f"{name}.out")
    wait_until(lambda: "ready." in worker.text() or worker.proc.poll() is not None, 120, what=f"{name} to start")
    assert worker.proc.poll() is None, worker.text()
    return worker


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
    assert "2 worker(s) connected" in status.stdout and "w1@" in status.stdout and "w2@" in status.stdout
    log = (coordinator / "testimony.log").read_text() + w1.text() + w2.text()
    assert PASSWORD not in log and "қалада" not in log  # no password, no transcript text in logs

    # Transcribed again in another language: the pieces go to the workers, the old one is kept.
    [out] = [p.parent for p in (coordinator / "outbox").glob("*/*/transcript.json")
             if json.loads(p.read_text())["source"]["file"] == interviews[2].name]
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

    taken = wait_until(lambda: list(decoded(doomed)), 120, interval=0.02, what="the worker to start a piece")[0]
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
    run_ = procs(Proc, coordinator, ["process", *map(str, interviews[:2])], tmp_path / "coordinator.out")

    wait_until(lambda: sum(decoded(worker).values()) >= 2, 120, interval=0.05, what="pieces to be under way")
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

    wait_until(lambda: sum(map(len, pieces(coordinator).values())) >= 2, 180, interval=0.05,
               what="some pieces to be stored")
    first.kill(signal.SIGKILL)
    done_before = {(i, e["piece"]) for i, entries in pieces(coordinator).items() for e in entries}
    second = procs(Proc, coordinator, ["watch"], tmp_path / "watch2.out")

    wait_until(lambda: len(transcripts(coordinator)) == 3, 240, what="all three transcripts")
    second.kill(signal.SIGTERM)
    assert transcripts(coordinator) == reference
    assert_each_piece_once(coordinator, 3)
    runs = decoded(worker)
    assert all(runs[piece] == 1 for piece in done_before), runs  # nothing already done ran twice


def test_wrong_password_or_unreachable_broker_is_one_clear_line(tmp_path, procs, interviews, checkpoint):
    redis = procs(Redis, tmp_path / "redis").start()
    home = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url("wrong"))
    result = run(home, "process", interviews[0])
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "refused the password" in result.stderr
    assert "wrong" not in result.stderr  # the URL is shown without its password
    assert not list((home / "evidence").rglob("*.wav"))  # nothing taken in before the broker was checked

    worker = run(home, "worker", "--broker", redis.url("wrong"))
    assert worker.returncode == 1 and "refused the password" in worker.stderr

    nobody = run(home, "worker", "--broker", f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    assert nobody.returncode == 1 and "cannot reach the broker" in nobody.stderr
    assert nobody.stderr.strip().count("\n") == 0

    remote = run(home, "worker", "--broker", "redis://10.1.2.3:6379/0")  # refused before any connection
    assert remote.returncode == 1 and "no password" in remote.stderr and "requirepass" in remote.stderr


def test_a_worker_without_the_model_leaves_the_piece_for_one_that_has_it(tmp_path, procs, interviews, reference,
                                                                        checkpoint):
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
    status = wait_until(lambda: (s := run(coordinator, "status").stdout) and "waiting for a worker" in s and s,
                        120, what="status to say it is waiting for a worker")
    assert "1 worker(s) connected" in status and run_.proc.poll() is None  # waiting, not failed

    good = start_worker(procs, tmp_path, make_home(tmp_path / "good", checkpoint), "good", redis)
    assert run_.wait() == 0, run_.text()
    assert transcripts(coordinator) == {interviews[2].name: reference[interviews[2].name]}
    found = assert_each_piece_once(coordinator, 1)
    assert {e["worker"].split("@")[0] for entries in found.values() for e in entries} == {"good"}
    assert "decoded" not in stale.text()
    assert decoded(good)


def test_pieces_travel_as_lossless_flac_and_urls_are_checked():
    audio = np.random.default_rng(0).integers(-32768, 32767, 16000 * 3).astype(np.float32) / 32768.0
    assert np.array_equal(broker.from_flac(broker.to_flac(audio)), audio)
    assert broker.check_url("redis://127.0.0.1:6379/0")
    assert broker.check_url("rediss://:pw@broker.example:6380/0?ssl_cert_reqs=required")
    for bad, why in [("redis://broker.example:6379/0", "no password"), ("amqp://x", "not a Redis URL"),
                     ("rediss://:pw@broker.example:6380/0", "ssl_cert_reqs")]:
        with pytest.raises(broker.BrokerError, match=why):
            broker.check_url(bad)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1, made with the cryptography package."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_tls_broker_with_rediss_url(tmp_path):
    ca, cert, key = _certificates(tmp_path)
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                               "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file",
                               str(ca), "--tls-auth-clients", "no", "--requirepass", PASSWORD, "--save", "",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={ca}"

        def reachable():
            try:
                broker.preflight(url)
                return True
            except broker.BrokerError:
                return server.poll() is not None
        wait_until(reachable, 30, what="redis-server with TLS")
        assert server.poll() is None, "this redis-server was built without TLS"
        app = broker.configure(url, 60)
        with app.connection_for_write() as connection:  # Celery's own transport over TLS
            connection.ensure_connection(max_retries=3)
        app.backend.set("testimony-tls-check", "ok")
        assert app.backend.get("testimony-tls-check") == b"ok"
        with pytest.raises(broker.BrokerError, match="cannot reach"):  # plain text to a TLS port
            broker.preflight(f"redis://:{PASSWORD}@127.0.0.1:{port}/0")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_device_auto_is_cpu_without_a_gpu_and_cuda_is_refused_there():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from pipeline.cluster import decoder

    assert decoder.pick_device("auto") == "cpu"
    with pytest.raises(ValueError, match="sees no GPU"):
        decoder.pick_device("cuda")
