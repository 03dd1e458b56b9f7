"""The organisation key, and SSH signatures (SSHSIG) that a newsroom checks with OpenSSH alone.

One Ed25519 key under ``HOME/keys`` signs every press packet's ``manifest.json`` in the
namespace ``testimony-packet`` and is the root of the certificate that signs the videos'
Content Credentials. The private key file is the owner's only (0600) and never leaves the
folder: packets carry the public key, logs carry its fingerprint.

The SSHSIG wire format (openssh PROTOCOL.sshsig) is written with the `sshsig` package's own
classes and checked with its ``verify``; `sshsig` cannot sign, so the Ed25519 signature itself
comes from `cryptography`, over the exact "to be signed" blob `sshsig` builds.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sshsig import InvalidSignature, PublicKey
from sshsig import verify as sshsig_verify
from sshsig.binary_io import SshWriter
from sshsig.sshsig import SshsigSignature, SshsigWrapper

NAMESPACE = "testimony-packet"
KEY_FILE = "org_ed25519"  # OpenSSH private key, 0600
PUBLIC_FILE = "org_ed25519.pub"  # one line: ssh-ed25519 AAAA... ORG
HASH_ALGO = "sha512"  # what ssh-keygen -Y sign uses by default
ORG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}")


class SigningError(RuntimeError):
    """No usable organisation key; the message says what to do."""


@dataclass(frozen=True)
class OrgKey:
    """The organisation's signing key as loaded from the home folder."""

    org: str
    private: ed25519.Ed25519PrivateKey
    folder: Path

    @property
    def public_line(self) -> str:
        return public_line(self.private.public_key(), self.org)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_line)


def keys_dir(home: Path) -> Path:
    return home / "keys"


def public_line(key: ed25519.Ed25519PublicKey, org: str) -> str:
    raw = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return f"{raw} {org}"


def fingerprint(line: str) -> str:
    """SHA256:... exactly as `ssh-keygen -lf` prints it."""
    return PublicKey.from_openssh_str(line).sha256_str()


def allowed_signers_line(line: str) -> str:
    """The line of an OpenSSH allowed_signers file that trusts ``line`` for packets only."""
    algo, blob, *rest = line.split()
    org = rest[0] if rest else "testimony"
    return f'{org} namespaces="{NAMESPACE}" {algo} {blob}'


def init(home: Path, org: str) -> OrgKey:
    """Make the key; refuse to replace one (packets already sent were signed with it)."""
    if not ORG_PATTERN.fullmatch(org):
        raise SigningError(
            f"{org!r} cannot name the organisation in an allowed_signers file: use letters, "
            f"digits and . _ @ + - only, no spaces (e.g. press@example.org)"
        )
    folder = keys_dir(home)
    if (folder / KEY_FILE).exists():
        raise SigningError(
            f"an organisation key already exists in {folder}; packets already sent were signed "
            f"with it, so it is not replaced (move the folder away first to start over)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    fd = os.open(folder / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    key = OrgKey(org, private, folder)
    (folder / PUBLIC_FILE).write_text(key.public_line + "\n", encoding="utf-8")
    return key


def load(home: Path) -> OrgKey:
    folder = keys_dir(home)
    path = folder / KEY_FILE
    if not path.exists():
        raise SigningError(
            "no organisation key to sign with: run `testimony keys init --org NAME` once, then "
            "publish what `testimony keys show` prints so newsrooms can check packets"
        )
    if path.stat().st_mode & 0o077:
        raise SigningError(
            f"{path} is readable by others; make it the owner's only: chmod 600 {path}"
        )
    private = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 key")
    org = (folder / PUBLIC_FILE).read_text(encoding="utf-8").split()[2]
    return OrgKey(org, private, folder)


def _string(data: bytes) -> bytes:
    out = io.BytesIO()
    SshWriter(out).write_string(data)
    return out.getvalue()


def sign(key: OrgKey, message: bytes, namespace: str = NAMESPACE) -> str:
    """An armored SSHSIG of ``message``, as `ssh-keygen -Y sign -n NAMESPACE` writes it."""
    digest = hashlib.new(HASH_ALGO, message).digest()
    blob = SshsigWrapper(
        namespace=namespace.encode(), hash_algo=HASH_ALGO.encode(), hash=digest
    ).to_bytes()
    raw_sig = key.private.sign(blob)
    public = base64.b64decode(key.public_line.split()[1])
    out = io.BytesIO()
    writer = SshWriter(out)
    writer.write(b"SSHSIG")
    writer.write_uint32(SshsigSignature.VERSION)
    for part in (
        public,
        namespace.encode(),
        b"",
        HASH_ALGO.encode(),
        _string(b"ssh-ed25519") + _string(raw_sig),
    ):
        writer.write_string(part)
    return SshsigSignature(out.getvalue()).to_armored()


def signer_of(message: bytes, armored: bytes | str, namespace: str = NAMESPACE) -> str:
    """The OpenSSH public key line that made a valid signature; raises InvalidSignature otherwise."""
    try:
        signature = SshsigSignature.from_armored(armored)
        public = PublicKey.from_ssh_encoding(signature.public_key)
    except (ValueError, NotImplementedError) as exc:
        raise InvalidSignature(f"not an SSH signature: {exc}") from exc
    return str(sshsig_verify(message, armored, [public], namespace))
