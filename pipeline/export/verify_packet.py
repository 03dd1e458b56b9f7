"""Check a press packet as a newsroom would: the signature, every file, the videos' credentials.

Needs only the packet (and, better, the organisation's published key): nothing from a home
folder, so a newsroom that installs the tool can run it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import c2pa_manifest, packet, signing


@dataclass
class Check:
    ok: bool
    subject: str
    detail: str


class PacketError(RuntimeError):
    """The packet cannot be read at all; the message says what to do."""


def read_key(text: str) -> str:
    """An OpenSSH public key line from a file, or given as is."""
    path = Path(text)
    line = path.read_text(encoding="utf-8").strip() if path.is_file() else text.strip()
    words = line.split()
    start = next((n for n, w in enumerate(words) if w.startswith("ssh-")), 0)
    line = " ".join(
        words[start : start + 3]
    )  # an allowed_signers line starts with principal and options
    try:
        signing.fingerprint(line)
    except (ValueError, NotImplementedError, IndexError) as exc:
        raise PacketError(
            f"--key {text}: not an OpenSSH public key (give the file or the line "
            f"`ssh-ed25519 AAAA... org` that the organisation publishes)"
        ) from exc
    return line


def _blob(line: str) -> str:
    return line.split()[1]


def verify(zip_path: Path, key_line: str | None = None) -> list[Check]:
    """Every finding about the packet, good and bad, in the order a person would check."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PacketError(
            f"{zip_path} cannot be opened as a zip ({exc}); is it the whole file?"
        ) from exc
    with zf:
        names = zf.namelist()
        if "manifest.json" not in names or packet.SIGNATURE not in names:
            missing = [n for n in ("manifest.json", packet.SIGNATURE) if n not in names]
            return [
                Check(
                    False,
                    " and ".join(missing),
                    "missing: this is not a signed press packet, or the files were taken out of it",
                )
            ]
        body = zf.read("manifest.json")
        check, made_by = _signature(body, zf.read(packet.SIGNATURE), key_line)
        checks = [check]
        try:
            manifest = json.loads(body)
        except ValueError:
            return checks + [Check(False, "manifest.json", "is not JSON")]
        named = (manifest.get("signed_by") or {}).get("public_key")
        if made_by and (not named or _blob(named) != _blob(made_by)):
            checks.append(
                Check(
                    False, "manifest.json", "names another signing key than the one that signed it"
                )
            )
        listed = manifest.get("files") or {}
        for name, entry in listed.items():
            if name not in names:
                checks.append(
                    Check(False, name, "listed in the manifest but missing from the packet")
                )
            elif hashlib.sha256(zf.read(name)).hexdigest() != entry.get("sha256"):
                checks.append(
                    Check(False, name, "changed: its SHA-256 is not the one in the manifest")
                )
            else:
                checks.append(Check(True, name, "SHA-256 matches the manifest"))
        for name in names:
            if name not in listed and name not in ("manifest.json", packet.SIGNATURE):
                checks.append(
                    Check(
                        False, name, "not listed in the manifest: added after the packet was signed"
                    )
                )
        checks.append(protections(manifest))
        signer = key_line or (manifest.get("signed_by") or {}).get("public_key") or ""
        videos = [n for n in listed if n.endswith(".mp4") and n in names]
        if videos:
            checks += _credentials(zf, videos, signer, manifest)
    return checks


def protections(manifest: dict) -> Check:
    """What the signed manifest says was done to protect people in the videos (a finding, not a
    failure: the organisation decides which protections an interview needs)."""
    found = manifest.get("protections")
    if not isinstance(found, dict):
        return Check(True, "protections", "not stated (a packet made before they were recorded)")
    if not found.get("videos"):
        return Check(True, "protections", "no video or sound in this packet")
    done = [c2pa_manifest.PROTECTION_DONE.get(p, p) for p in found.get("applied") or []]
    undone = ", ".join(found.get("not_applied") or []) or "none"
    return Check(
        True,
        "protections",
        ("; ".join(done) or "none applied to the videos") + f". Not applied: {undone}",
    )


def _signature(body: bytes, sig: bytes, key_line: str | None) -> tuple[Check, str | None]:
    """The signature's check, and the key that made it when it is valid."""
    try:
        signer = signing.signer_of(body, sig)
    except signing.InvalidSignature:
        return Check(
            False,
            "manifest.json.sig",
            "does not match manifest.json: the manifest was changed after it was signed",
        ), None
    found = signing.fingerprint(signer)
    if key_line is None:
        return Check(
            True,
            "manifest.json.sig",
            f"valid, made by the key {found} that the packet itself names: "
            f"compare that with the fingerprint the organisation publishes, "
            f"or pass --key",
        ), signer
    if _blob(signer) != _blob(key_line):
        return Check(
            False,
            "manifest.json.sig",
            f"made by the key {found}, not by the organisation's key "
            f"{signing.fingerprint(key_line)} that you gave",
        ), signer
    return Check(
        True, "manifest.json.sig", f"valid, made by the organisation's key {found}"
    ), signer


def _applied(data: dict) -> list[str]:
    """The protections a packet's manifest or a video's credentials name as applied."""
    found = data.get("protections") or []
    return list(found.get("applied") or [] if isinstance(found, dict) else found)


def _credentials(
    zf: zipfile.ZipFile, videos: list[str], signer: str, manifest: dict
) -> list[Check]:
    """Each video's C2PA manifest: signed under the organisation's root, bytes unchanged."""
    checks = []
    root = zf.read(packet.C2PA_ROOT) if packet.C2PA_ROOT in zf.namelist() else None
    root_ok = bool(root and signer and c2pa_manifest.root_matches(root, signer))
    if not root_ok:
        checks.append(
            Check(
                False,
                packet.C2PA_ROOT,
                "missing, or not a certificate of the key that signed "
                "the packet: the videos' credentials cannot be tied to it",
            )
        )
    source = (manifest.get("original_recording") or {}).get("sha256")
    with tempfile.TemporaryDirectory() as tmp:
        for name in videos:
            path = Path(tmp) / "video.mp4"
            with zf.open(name) as src, path.open("wb") as dest:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dest.write(block)
            found = c2pa_manifest.read(path, root if root_ok else None)
            path.unlink()
            subject = f"{name} (Content Credentials)"
            if found.state == "missing":
                checks.append(Check(False, subject, "no C2PA manifest"))
            elif found.state == "Invalid" or (root_ok and found.state != "Trusted"):
                checks.append(
                    Check(
                        False,
                        subject,
                        f"{found.state}: {', '.join(found.failures) or 'not trusted'}",
                    )
                )
            elif found.facts.get("source_sha256") != source:
                checks.append(
                    Check(False, subject, "names another original recording than the manifest")
                )
            else:
                checks.append(
                    Check(
                        True,
                        subject,
                        f"{found.state}: signed under the organisation's root; "
                        f"subtitles {found.facts.get('subtitles')}, "
                        f"{found.facts.get('muted_spans')} muted span(s), review "
                        f"{found.facts.get('review_status')}, "
                        "protections: "
                        f"{', '.join(_applied(found.facts)) or 'none'}",
                    )
                )
            if found.facts and sorted(_applied(found.facts)) != sorted(_applied(manifest)):
                checks.append(Check(False, subject, "names other protections than the manifest"))
    return checks
