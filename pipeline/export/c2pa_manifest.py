"""Content Credentials (C2PA) for exported videos, with c2pa-python, signed offline.

C2PA signs with an X.509 certificate, not an SSH key. The C2PA library refuses a self-signed
signing certificate, so the organisation key is made the root of a two-link chain: a CA
certificate self-signed by the organisation's Ed25519 key, and a signing certificate (its own
Ed25519 key, documentSigning/emailProtection usage) issued by it. Both live in ``HOME/keys/c2pa``
and are made the first time a video is exported. No public authority vouches for the root:
C2PA readers report the credential as valid but "untrusted" unless the reader is given the
organisation's root (``verify-packet`` does that, after checking the root is the packet's key).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .signing import OrgKey

ASSERTION = "org.testimony.export"
# What each protection did, as the videos' actions and verify-packet say it (never how).
PROTECTION_DONE = {
    "names": "withheld names muted in the sound where they are spoken inside kept passages",
    "voice": "voices disguised (formants and pitch moved by a transform drawn at random "
    "for this export)",
    "faces": "faces blurred in every frame where an automatic detector found them",
}
ROOT_FILE, CHAIN_FILE, SIGNER_KEY = "root.pem", "chain.pem", "signer.key"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
# Nothing read from a network: no OCSP, no remote manifests.
OFFLINE = {"verify": {"ocsp_fetch": False, "remote_manifest_fetch": False}}
PEM = serialization.Encoding.PEM


@dataclass
class Credentials:
    """What was read back from a video."""

    state: str  # Trusted | Valid | Invalid | missing
    failures: list[str]
    facts: dict  # our assertion's data
    actions: list[dict]
    issuer: str | None


def _name(org: str, role: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{org} {role}"),
        ]
    )


def _certificates(key: OrgKey) -> tuple[bytes, bytes]:
    """(signer chain PEM, signer private key PEM), made under the keys folder on first use."""
    folder = key.folder / "c2pa"
    chain_file, key_file = folder / CHAIN_FILE, folder / SIGNER_KEY
    if chain_file.exists() and key_file.exists():
        chain = chain_file.read_bytes()
        root = x509.load_pem_x509_certificates(chain)[-1]
        if root.public_key() == key.private.public_key():
            return chain, key_file.read_bytes()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    end = start + dt.timedelta(days=3650)
    org_public = key.private.public_key()
    root = (
        x509.CertificateBuilder()
        .subject_name(_name(key.org, "root"))
        .issuer_name(_name(key.org, "root"))
        .public_key(org_public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(org_public), critical=False)
        .sign(key.private, None)
    )
    signer = ed25519.Ed25519PrivateKey.generate()
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(key.org, "content credentials"))
        .issuer_name(root.subject)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(org_public), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(signer.public_key()), critical=False
        )
        .sign(key.private, None)
    )
    chain = leaf.public_bytes(PEM) + root.public_bytes(PEM)
    private = signer.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    chain_file.write_bytes(chain)
    (folder / ROOT_FILE).write_bytes(root.public_bytes(PEM))
    return chain, private


def root_pem(key: OrgKey) -> bytes:
    """The organisation's C2PA root certificate (public), for packets to carry."""
    _certificates(key)
    return (key.folder / "c2pa" / ROOT_FILE).read_bytes()


def root_matches(pem: bytes, public_line: str) -> bool:
    """Is ``pem`` a self-signed CA certificate of exactly this organisation key?"""
    try:
        root = x509.load_pem_x509_certificate(pem)
        org = serialization.load_ssh_public_key(" ".join(public_line.split()[:2]).encode())
        if root.public_key() != org:
            return False
        root.public_key().verify(root.signature, root.tbs_certificate_bytes)
    except (ValueError, InvalidSignature):
        return False
    return True


def embed(key: OrgKey, source: Path, target: Path, facts: dict) -> None:
    """Write ``source`` to ``target`` with a signed manifest holding ``facts`` and what was done."""
    chain, private = _certificates(key)
    actions = [
        {
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
            "description": f"interview recorded on camera; the original is kept unchanged by {key.org}, "
            f"SHA-256 {facts['source_sha256']}",
        },
        {
            "action": "c2pa.edited",
            "softwareAgent": {"name": "testimony"},
            "description": f"English subtitles {facts['subtitles']}",
        },
        {
            "action": "c2pa.edited.metadata",
            "softwareAgent": {"name": "testimony"},
            "description": "the recording's metadata (titles, device, location) removed",
        },
    ]
    if facts["muted_spans"]:
        actions.append(
            {
                "action": "c2pa.edited",
                "softwareAgent": {"name": "testimony"},
                "description": f"sound muted in {facts['muted_spans']} span(s) to protect people",
            }
        )
    for protection in facts.get("protections", []):
        actions.append(
            {
                "action": "c2pa.edited",
                "softwareAgent": {"name": "testimony"},
                "description": f"to protect people: {PROTECTION_DONE[protection]}",
            }
        )
    manifest = {
        "claim_generator_info": [
            {"name": "testimony", "version": facts.get("software") or "unknown"}
        ],
        "title": target.name,
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": actions}},
            {"label": ASSERTION, "data": facts},
        ],
    }
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ED25519, chain, private, None)
    signer = c2pa.Signer.from_info(info)
    try:
        with (
            c2pa.Builder(manifest, c2pa.Context.from_dict(OFFLINE)) as builder,
            source.open("rb") as src,
            target.open("w+b") as dest,
        ):
            builder.sign(signer, "video/mp4", src, dest)
    finally:
        signer.close()


def read(path: Path, trusted_root: bytes | None = None) -> Credentials:
    """The manifest of a video as a C2PA reader sees it; with ``trusted_root`` it may say Trusted."""
    settings = json.loads(json.dumps(OFFLINE))
    if trusted_root:
        settings["verify"]["verify_trust"] = True
        settings["trust"] = {"trust_anchors": trusted_root.decode()}
    try:
        with (
            path.open("rb") as fh,
            c2pa.Reader("video/mp4", fh, None, c2pa.Context.from_dict(settings)) as reader,
        ):
            manifest = reader.get_active_manifest() or {}
            state = reader.get_validation_state() or "missing"
            results = (reader.get_validation_results() or {}).get("activeManifest") or {}
    except c2pa.C2paError as exc:
        return Credentials("missing", [str(exc).splitlines()[0]], {}, [], None)
    data = {a["label"]: a["data"] for a in manifest.get("assertions", [])}
    actions = (data.get("c2pa.actions.v2") or data.get("c2pa.actions") or {}).get("actions", [])
    return Credentials(
        state,
        [f["code"] for f in results.get("failure", [])],
        data.get(ASSERTION, {}),
        actions,
        (manifest.get("signature_info") or {}).get("issuer"),
    )
