"""`testimony models fetch / bundle / add BUNDLE / use / list`: models fetched on a connected
machine, carried as one checked bundle, installed on an offline one.

The "internet" is two loopback servers started here (tests/hub.py): a Hugging Face hub that
the real huggingface_hub client downloads from (HF_ENDPOINT), serving tiny Whisper and NLLB
models saved by transformers itself, and an Argos package index (ARGOS_PACKAGE_INDEX) serving
a tiny Argos package. Nothing reaches outside the machine."""

import hashlib
import io
import json
import tarfile

import pytest

from pipeline import config, models
from pipeline.hashing import sha256_file
from pipeline.models.catalog import KNOWN
from pipeline.store import Store

from builders import (
    ffmpeg,
    tiny_argos_package,
    transformers_nllb_folder,
    transformers_whisper_folder,
)
from conftest import FAST_SETTINGS, SAMPLE, free_port
from hub import ArgosIndex, FakeHub

NLLB = "nllb-200-distilled-600M"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("published")
    whisper = transformers_whisper_folder(tiny_checkpoint, root / "whisper-small")
    nllb = transformers_nllb_folder(root / "nllb")
    argos = tiny_argos_package(root / "argos-build", "ru", "en")
    with FakeHub() as hub, ArgosIndex() as index:
        hub.add("openai/whisper-small", whisper, licence="apache-2.0")
        hub.add("someone/whisper-small-kazakh", whisper, licence="cc-by-4.0")
        hub.add(KNOWN[NLLB].repo, nllb, licence="cc-by-nc-4.0", commit=KNOWN[NLLB].revision)
        index.add(argos, "ru", "en")
        yield hub, index


@pytest.fixture
def online(servers, monkeypatch, tmp_path):
    hub, index = servers
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("ARGOS_PACKAGE_INDEX", index.url + "/")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token or cache of the user's
    return hub, index


def new_home(root, monkeypatch):
    root.mkdir()
    (root / config.SETTINGS_FILE).write_text(FAST_SETTINGS)
    monkeypatch.setenv("TESTIMONY_HOME", str(root))
    settings = config.load(root)
    settings.ensure_dirs()
    return settings


def manifest_of(bundle):
    with tarfile.open(bundle) as tar:
        return json.load(tar.extractfile("manifest.json"))


@pytest.fixture(scope="module")
def fetched(servers, tmp_path_factory):
    """One bundle fetched from the loopback servers, shared by the tests that only read it."""
    hub, index = servers
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("HF_ENDPOINT", hub.url)
        mp.setenv("ARGOS_PACKAGE_INDEX", index.url + "/")
        mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))
        settings = new_home(tmp_path_factory.mktemp("connected") / "home", mp)
        from pipeline.models.fetch import fetch

        out = tmp_path_factory.mktemp("carry") / "models.tar"
        fetch(settings, ["small", NLLB, "argos:ru-en"], out, say=lambda line: None)
    finally:
        mp.undo()
    return out


def test_fetch_bundle_add_use_and_process_a_clip(fetched, online, cli, tmp_path, monkeypatch):
    hub, _ = online
    manifest = manifest_of(fetched)
    by_name = {m["name"]: m for m in manifest["models"]}
    assert by_name["small"]["revision"] == hub.repos["openai/whisper-small"]["sha"]
    assert by_name["small"]["licence"] == "apache-2.0" and by_name["small"]["kind"] == "whisper"
    assert (
        by_name[NLLB]["revision"] == KNOWN[NLLB].revision
        and by_name[NLLB]["licence"] == "cc-by-nc-4.0"
    )
    assert set(by_name[NLLB]["languages"]) == {"kk", "ky", "ru"}
    argos = next(m for m in manifest["models"] if m["repo"] == "argos:ru-en")
    assert argos["revision"] == "1.9"
    assert {"whisper/small.pt", "whisper/small-ct2/model.bin", f"argos/{NLLB}.argosmodel"} <= set(
        manifest["files"]
    )
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())

    # The offline machine: a second home that never talks to the servers.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("ARGOS_PACKAGE_INDEX")
    offline = new_home(tmp_path / "offline", monkeypatch)
    added = cli("models", "add", fetched)
    assert added.exit_code == 0, added.output
    assert "manifest sha256" in added.output
    events = Store(offline.database).events()
    [event] = [e for e in events if e["kind"] == "models_added"]
    with tarfile.open(fetched) as tar:
        assert (
            event["sha256"] == hashlib.sha256(tar.extractfile("manifest.json").read()).hexdigest()
        )

    listing = cli("models", "list").output
    assert (
        f"from openai/whisper-small @ {hub.repos['openai/whisper-small']['sha']}; licence apache-2.0"
        in listing
    )
    assert "published:" in listing and "kk,ky,ru -> en" in listing and "ru -> en" in listing
    assert cli("models", "add", fetched).exit_code == 0  # the same bundle again: nothing changes

    used = cli("models", "use", "small", "--languages", "kk")
    assert used.exit_code == 0, used.output
    assert models.model_for_language(config.load(offline.home), "kk") == "small"

    # The same models packed again here, for a worker or a second office: the same bytes.
    office = tmp_path / "office.tar"
    packed = cli("models", "bundle", "small", "translate-ru_en", "--out", office)
    assert packed.exit_code == 0, packed.output
    again = manifest_of(office)
    assert again["files"]["whisper/small.pt"] == manifest["files"]["whisper/small.pt"]
    assert {m["name"]: m["revision"] for m in again["models"]} == {
        "small": by_name["small"]["revision"],
        "translate-ru_en": "1.9",
    }

    clip = tmp_path / "KZ-0002_clip.mp4"
    ffmpeg("-i", str(SAMPLE), "-t", "4", "-c", "copy", str(clip))
    result = cli("process", clip, "--language", "kk")
    assert result.exit_code == 0, result.output
    [processed] = [e for e in Store(offline.database).events() if e["kind"] == "processed"]
    detail = json.loads(processed["detail"])
    record = json.loads((models.whisper_dir(offline) / "small.json").read_text())
    assert detail["model"] == "small" and detail["model_sha256"] == record["sha256"]
    assert record["revision"] == hub.repos["openai/whisper-small"]["sha"]


def test_a_fine_tune_by_repository_id_with_its_languages(online, cli, tmp_path, monkeypatch):
    new_home(tmp_path / "home", monkeypatch)
    out = tmp_path / "kk.tar"
    result = cli(
        "models", "fetch", "someone/whisper-small-kazakh", "--languages", "kk", "--out", out
    )
    assert result.exit_code == 0, result.output
    [entry] = manifest_of(out)["models"]
    assert entry["name"] == "whisper-small-kazakh" and entry["languages"] == ["kk"]
    assert entry["licence"] == "cc-by-4.0"


def files_under(settings):
    return sorted(str(p.relative_to(settings.models)) for p in settings.models.rglob("*"))


def rewrite(bundle, out, change):
    """Copy ``bundle`` member by member, letting ``change(name, data)`` alter a file's bytes."""
    with tarfile.open(bundle) as src, tarfile.open(out, "w") as dst:
        for member in src:
            data = src.extractfile(member).read()
            data = change(member.name, data)
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out


def test_an_altered_file_is_named_and_nothing_is_installed(fetched, cli, tmp_path, monkeypatch):
    settings = new_home(tmp_path / "home", monkeypatch)
    before = files_under(settings)

    def flip(name, data):
        return data[:-1] + bytes([data[-1] ^ 1]) if name == "whisper/small-ct2/model.bin" else data

    result = cli("models", "add", rewrite(fetched, tmp_path / "tampered.tar", flip))
    assert result.exit_code == 1
    assert "whisper/small-ct2/model.bin does not match its SHA-256" in result.output
    assert files_under(settings) == before
    assert not [e for e in Store(settings.database).events() if e["kind"] == "models_added"]


def test_a_truncated_bundle_is_refused_whole(fetched, cli, tmp_path, monkeypatch):
    settings = new_home(tmp_path / "home", monkeypatch)
    before = files_under(settings)
    data = fetched.read_bytes()
    for cut in (
        len(data) // 2,
        len(data) - 30_000,
    ):  # (the last 10 KiB or so are only end-of-archive padding)
        short = tmp_path / f"short-{cut}.tar"
        short.write_bytes(data[:cut])
        result = cli("models", "add", short)
        assert result.exit_code == 1, result.output
        assert short.name in result.output and (
            "truncated" in result.output or "missing" in result.output
        )
        assert files_under(settings) == before


def test_what_is_not_a_bundle_is_refused(cli, tmp_path, monkeypatch):
    new_home(tmp_path / "home", monkeypatch)
    junk = tmp_path / "notes.tar"
    junk.write_text("not a tar at all")
    result = cli("models", "add", junk)
    assert result.exit_code == 1 and "notes.tar is not a model bundle" in result.output
    plain = tmp_path / "plain.tar"
    (tmp_path / "readme.txt").write_text("hello")
    with tarfile.open(plain, "w") as tar:
        tar.add(tmp_path / "readme.txt", arcname="readme.txt")
    result = cli("models", "add", plain)
    assert result.exit_code == 1 and "plain.tar is not a model bundle" in result.output
    hostile = tmp_path / "hostile.tar"  # well-formed, but its model name climbs out of models/
    raw = json.dumps(
        {
            "format": "testimony-model-bundle",
            "version": 1,
            "files": {},
            "models": [{"name": "../evil", "kind": "whisper"}],
        }
    ).encode()
    with tarfile.open(hostile, "w") as tar:
        info = tarfile.TarInfo("manifest.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    result = cli("models", "add", hostile)
    assert (
        result.exit_code == 1
        and "names a model '../evil' that cannot be installed" in result.output
    )
    assert not (tmp_path / "home" / "evil.pt").exists()


def test_an_unknown_name_is_refused_before_any_download(online, cli, tmp_path, monkeypatch):
    hub, _ = online
    new_home(tmp_path / "home", monkeypatch)
    seen = len(hub.requests)
    result = cli("models", "fetch", "large-v9", "--out", tmp_path / "x.tar")
    assert result.exit_code == 1 and "'large-v9' is not a model this tool knows" in result.output
    assert len(hub.requests) == seen and not (tmp_path / "x.tar").exists()
    missing = cli("models", "fetch", "nobody/no-such-whisper", "--out", tmp_path / "x.tar")
    assert missing.exit_code == 1 and "no such model repository" in missing.output


def test_an_unreachable_hub_says_the_machine_seems_offline(cli, tmp_path, monkeypatch):
    new_home(tmp_path / "home", monkeypatch)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ARGOS_PACKAGE_INDEX", f"http://127.0.0.1:{free_port()}/")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for name in ("small", "argos:ky-en"):
        result = cli("models", "fetch", name, "--out", tmp_path / "x.tar")
        assert result.exit_code == 1
        lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert (
            len(lines) == 1
            and "seems offline" in lines[0]
            and "testimony models add BUNDLE.tar" in lines[0]
        )
    assert not (tmp_path / "x.tar").exists()


@pytest.mark.slow
def test_the_embedded_base_bundled_and_added_elsewhere_is_the_same_model(
    cli, tmp_path, monkeypatch
):
    from pipeline import asr, media

    first = new_home(tmp_path / "first", monkeypatch)
    out = tmp_path / "base.tar"
    assert cli("models", "bundle", "base", "--out", out).exit_code == 0
    sha_first = models.resolve_whisper(first, "base")[1]
    second = new_home(tmp_path / "second", monkeypatch)
    result = cli("models", "add", out)
    assert result.exit_code == 0, result.output
    path_second, sha_second = models.resolve_whisper(second, "base")
    assert (
        sha_second == sha_first
        and models.resolve_ct2(second, "base")[1] == models.EMBEDDED_CT2_SHA256
    )

    # The same bytes, read again here, not only as recorded; what is left to show is that the
    # added copy decodes. (The embedded one decodes in test_real_model.py.)
    assert sha256_file(models.resolve_whisper(first, "base")[0]) == sha256_file(path_second)
    clip = tmp_path / "clip.wav"
    ffmpeg("-i", str(SAMPLE), "-t", "5", "-ar", "16000", "-ac", "1", str(clip))
    engine = asr.load_model(path_second)
    greedy = asr.DecodeOptions(fallback=False)
    segments = asr.transcribe(engine, media.load_wav(clip), "kk", greedy).segments
    assert any(s.text.strip() for s in segments)


def test_use_sets_only_its_own_lines_in_testimony_toml(home, cli):
    path = home.home / config.SETTINGS_FILE
    path.write_text(
        FAST_SETTINGS
        + '\n[asr.models]\nky = "tiny"  # Kyrgyz\nru = "tiny"\n\n[jobs]\nmax_attempts = 5\n'
    )
    assert cli("models", "use", "tiny", "--languages", "kk,ky").exit_code == 0
    text = path.read_text()
    assert 'kk = "tiny"' in text and 'ru = "tiny"' in text and text.count("ky = ") == 1
    settings = config.load(home.home)
    assert (
        dict(settings.language_models) == {"kk": "tiny", "ky": "tiny", "ru": "tiny"}
        and settings.max_attempts == 5
    )
    refused = cli("models", "use", "no-such-model", "--languages", "kk")
    assert refused.exit_code == 1 and "no Whisper model named 'no-such-model'" in refused.output
    assert cli("models", "use", "tiny", "--languages", "en").exit_code == 1


def test_a_bundle_replaces_an_installed_model_only_when_asked(home, cli, tmp_path, monkeypatch):
    from builders import tiny_whisper_checkpoint

    other = new_home(tmp_path / "other", monkeypatch)  # "tiny" there is another model
    models.add_model(other, tiny_whisper_checkpoint(tmp_path / "tiny.pt", seed=5))
    out = tmp_path / "other.tar"
    assert cli("models", "bundle", "tiny", "--out", out).exit_code == 0
    new_sha = models.model_info(other, "tiny")["sha256"]

    monkeypatch.setenv("TESTIMONY_HOME", str(home.home))
    old_sha = models.model_info(home, "tiny")["sha256"]
    refused = cli("models", "add", out)
    assert refused.exit_code == 1 and "--replace" in refused.output
    assert (
        models.model_info(home, "tiny")["sha256"]
        == old_sha
        == models.resolve_whisper(home, "tiny")[1]
    )
    replaced = cli("models", "add", out, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert models.resolve_whisper(home, "tiny")[1] == new_sha != old_sha
    assert not list(home.models.glob(".adding-*"))  # the old model went with the scratch folder
