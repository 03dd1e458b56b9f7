"""Several machines: the broker's checks (a wrong password, an unreachable or unsafe URL, TLS),
the wire format of a piece, and the choice of device, against a real redis-server.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.cluster import broker

from cluster_lab import PASSWORD, Redis, checkpoint, interviews, make_home, procs, run  # noqa: F401
from conftest import free_port, wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("espeak-ng") is None,
    reason="needs redis-server and espeak-ng (apt install redis-server espeak-ng)",
)


def test_wrong_password_or_unreachable_broker_is_one_clear_line(
    tmp_path, procs, interviews, checkpoint
):
    redis = procs(Redis, tmp_path / "redis").start()
    home = make_home(tmp_path / "coordinator", checkpoint, broker=redis.url("wrong"))
    result = run(home, "process", interviews[0])
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "refused the password" in result.stderr
    assert "wrong" not in result.stderr  # the URL is shown without its password
    assert not list(
        (home / "evidence").rglob("*.wav")
    )  # nothing taken in before the broker was checked

    worker = run(home, "worker", "--broker", redis.url("wrong"))
    assert worker.returncode == 1 and "refused the password" in worker.stderr

    nobody = run(home, "worker", "--broker", f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    assert nobody.returncode == 1 and "cannot reach the broker" in nobody.stderr
    assert nobody.stderr.strip().count("\n") == 0

    remote = run(
        home, "worker", "--broker", "redis://10.1.2.3:6379/0"
    )  # refused before any connection
    assert (
        remote.returncode == 1 and "no password" in remote.stderr and "requirepass" in remote.stderr
    )


def test_pieces_travel_as_lossless_flac_and_urls_are_checked():
    audio = np.random.default_rng(0).integers(-32768, 32767, 16000 * 3).astype(np.float32) / 32768.0
    assert np.array_equal(broker.from_flac(broker.to_flac(audio)), audio)
    assert broker.check_url("redis://127.0.0.1:6379/0")
    assert broker.check_url("rediss://:pw@broker.example:6380/0?ssl_cert_reqs=required")
    for bad, why in [
        ("redis://broker.example:6379/0", "no password"),
        ("amqp://x", "not a Redis URL"),
        ("rediss://:pw@broker.example:6380/0", "ssl_cert_reqs"),
    ]:
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
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_tls_broker_with_rediss_url(tmp_path):
    ca, cert, key = _certificates(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(ca),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
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
