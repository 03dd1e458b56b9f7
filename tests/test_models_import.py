"""`testimony models add` for Whisper in each published form (openai-whisper .pt, faster-whisper
/CTranslate2 folder, Hugging Face folder), `models list`, and the language -> model setting.

Every source is derived in the test from the tiny random-weight checkpoint, so "the same model"
is checkable: the installed .pt must give the original's logits, the CTranslate2 folder the same
encoder output and logits through faster-whisper (float16 storage: a looser tolerance)."""

import hashlib
import json
import struct

import numpy as np
import pytest
import torch

from pipeline import config, models

from builders import tiny_ct2_whisper_folder, tiny_hf_whisper_folder, tiny_whisper_v3_checkpoint
from conftest import FAST_SETTINGS

SOT, TRANSCRIBE, NO_TIMESTAMPS = 50258, 50359, 50363


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lang_token(code):
    import whisper.tokenizer

    return whisper.tokenizer.get_tokenizer(True).to_language_token(code)


@pytest.fixture(scope="module")
def mel():
    return torch.randn(1, 80, 3000, generator=torch.Generator().manual_seed(7))


@pytest.fixture(scope="module")
def prompt():
    return [SOT, lang_token("kk"), TRANSCRIBE, NO_TIMESTAMPS]


def run_openai(checkpoint, mel, prompt):
    """(encoder output, logits of the prompt) of a .pt loaded the way the pipeline loads it."""
    import whisper

    model = whisper.load_model(str(checkpoint), device="cpu")  # load_state_dict is strict
    with torch.no_grad():
        audio = model.encoder(mel)
        return audio, model.logits(torch.tensor([prompt]), audio)


def run_faster(folder, mel, prompt):
    """(encoder output, first-step logits, greedy tokens) through faster-whisper's loader."""
    import ctranslate2
    from faster_whisper import WhisperModel

    model = WhisperModel(
        str(folder), device="cpu", compute_type="float32", local_files_only=True
    ).model
    features = ctranslate2.StorageView.from_array(mel.numpy())
    audio = np.array(model.encode(features, to_cpu=True))
    [result] = model.generate(
        features,
        [prompt],
        beam_size=1,
        max_length=len(prompt) + 2,
        return_logits_vocab=True,
        suppress_blank=False,
        suppress_tokens=[],
    )
    return audio, np.array(result.logits[0])[0], result.sequences_ids[0]


@pytest.fixture(scope="module")
def reference(tiny_checkpoint, mel, prompt):
    audio, logits = run_openai(tiny_checkpoint, mel, prompt)
    return audio, logits[0, -1]


@pytest.fixture(scope="module")
def sources(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("published")
    return {
        "hf": tiny_hf_whisper_folder(tiny_checkpoint, root / "kyrgyz-small"),
        "hf_bin": tiny_hf_whisper_folder(
            tiny_checkpoint,
            root / "kazakh-bin",
            weights="bin",
            lang_to_id={"<|kk|>": lang_token("kk"), "<|ru|>": lang_token("ru")},
        ),
        "ct2": tiny_ct2_whisper_folder(tiny_checkpoint, root / "tiny-faster"),
    }


def assert_same_model(installed_pt, reference, mel, prompt):
    audio, logits = run_openai(installed_pt, mel, prompt)
    assert torch.allclose(audio, reference[0], atol=1e-4)
    assert torch.allclose(logits[0, -1], reference[1], atol=1e-4)


def assert_same_in_faster_whisper(folder, reference, mel, prompt, atol):
    audio, logits, tokens = run_faster(folder, mel, prompt)
    assert np.allclose(audio, reference[0].numpy(), atol=atol)
    assert np.allclose(logits, reference[1].numpy(), atol=atol * 5)
    assert tokens[0] == int(reference[1].argmax())


def info_of(home, name):
    return json.loads((models.whisper_dir(home) / f"{name}.json").read_text())


def test_a_hugging_face_folder_becomes_a_model_for_both_engines(
    home, cli, sources, reference, mel, prompt
):
    result = cli("models", "add", sources["hf"], "--languages", "ky,kk")
    assert result.exit_code == 0, result.output
    folder = models.whisper_dir(home)
    info = info_of(home, "kyrgyz-small")
    assert info["format"] == "huggingface" and info["languages"] == ["ky", "kk"]
    assert info["source_sha256"] == {
        "model.safetensors": sha256(sources["hf"] / "model.safetensors")
    }
    assert info["dims"]["n_audio_state"] == 64 and info["dims"]["n_vocab"] == 51865
    assert info["sha256"] == sha256(folder / "kyrgyz-small.pt")
    assert info["ct2_sha256"] == sha256(folder / "kyrgyz-small-ct2" / "model.bin")
    assert info["source_sha256"]["model.safetensors"] in result.output

    assert_same_model(folder / "kyrgyz-small.pt", reference, mel, prompt)
    assert_same_in_faster_whisper(folder / "kyrgyz-small-ct2", reference, mel, prompt, atol=5e-3)
    assert models.resolve_whisper(home, "kyrgyz-small") == (
        str(folder / "kyrgyz-small.pt"),
        info["sha256"],
    )
    assert models.resolve_ct2(home, "kyrgyz-small") == (
        str(folder / "kyrgyz-small-ct2"),
        info["ct2_sha256"],
    )

    again = cli(
        "models", "add", sources["hf"], "--languages", "ky"
    )  # the same weights: nothing converted
    assert again.exit_code == 0 and "already installed" in again.output
    assert info_of(home, "kyrgyz-small") == {**info, "languages": ["ky"]}


def test_pytorch_bin_weights_and_languages_from_generation_config(
    home, cli, sources, reference, mel, prompt
):
    assert cli("models", "add", sources["hf_bin"]).exit_code == 0
    info = info_of(home, "kazakh-bin")
    assert info["languages"] == ["ru", "kk"] and info["languages_from"] == "generation_config.json"
    assert info["source_sha256"] == {
        "pytorch_model.bin": sha256(sources["hf_bin"] / "pytorch_model.bin")
    }
    assert_same_model(models.whisper_dir(home) / "kazakh-bin.pt", reference, mel, prompt)


def test_a_ctranslate2_folder_becomes_a_checkpoint_too(home, cli, sources, reference, mel, prompt):
    result = cli("models", "add", sources["ct2"], "--name", "fast-tiny")
    assert result.exit_code == 0, result.output
    folder = models.whisper_dir(home)
    info = info_of(home, "fast-tiny")
    source_sha = sha256(sources["ct2"] / "model.bin")
    assert info["format"] == "ctranslate2" and info["source_sha256"] == {"model.bin": source_sha}
    assert info["ct2_sha256"] == source_sha == sha256(folder / "fast-tiny-ct2" / "model.bin")
    assert (
        len(info["languages"]) == 99 and "kk" in info["languages"] and "ky" not in info["languages"]
    )
    assert_same_model(folder / "fast-tiny.pt", reference, mel, prompt)
    assert_same_in_faster_whisper(folder / "fast-tiny-ct2", reference, mel, prompt, atol=1e-4)


def test_an_added_pt_is_converted_for_faster_whisper_on_first_use(
    home, cli, reference, mel, prompt
):
    folder = models.whisper_dir(home)
    assert not (folder / "tiny-ct2").exists()  # the openai-whisper engine is the configured one
    assert "pt, ct2 on first use" in cli("models", "list").output
    path, sha = models.resolve_for_engine(home, "faster-whisper", "tiny")
    assert path == str(folder / "tiny-ct2") and sha == sha256(folder / "tiny-ct2" / "model.bin")
    assert info_of(home, "tiny")["ct2_sha256"] == sha
    assert_same_in_faster_whisper(path, reference, mel, prompt, atol=5e-3)
    assert models.resolve_for_engine(home, "faster-whisper", "tiny") == (
        path,
        sha,
    )  # converted once


def test_a_language_maps_to_its_model(home, cli, sources):
    (home.home / config.SETTINGS_FILE).write_text(
        FAST_SETTINGS + '\n[asr.models]\nky = "kyrgyz-small"\n'
    )
    settings = config.load(home.home)

    with pytest.raises(models.ModelError) as missing:
        models.resolve_for_engine(settings, "openai-whisper", language="ky")
    message = str(missing.value)
    assert "'kyrgyz-small'" in message and "language ky" in message
    assert "testimony models add PATH --name kyrgyz-small" in message
    listing = cli("models", "list").output
    assert "kyrgyz-small" in listing and "not installed" in listing

    assert cli("models", "add", sources["hf"], "--languages", "ky,kk").exit_code == 0
    assert models.model_for_language(settings, "ky") == "kyrgyz-small"
    assert (
        models.model_for_language(settings, "kk") == models.model_for_language(settings) == "tiny"
    )
    folder = models.whisper_dir(settings)
    assert models.resolve_for_engine(settings, "openai-whisper", language="ky")[0] == str(
        folder / "kyrgyz-small.pt"
    )
    assert models.resolve_for_engine(settings, "openai-whisper", language="kk")[0] == str(
        folder / "tiny.pt"
    )
    assert models.resolve_for_engine(settings, "faster-whisper", None, language="ky")[0] == str(
        folder / "kyrgyz-small-ct2"
    )
    assert models.resolve_for_engine(settings, "openai-whisper", "tiny", language="ky")[0] == str(
        folder / "tiny.pt"
    )

    assert (
        models.decoding_language(settings, "kyrgyz-small", "ky") == "kk"
    )  # Whisper has no ky token
    assert models.decoding_language(settings, "kyrgyz-small", "ru") == "ru"
    assert models.decoding_language(settings, "tiny", "ky") is None

    rows = {
        line.split()[0]: line
        for line in cli("models", "list").output.splitlines()[2:]
        if line.strip()
    }
    sha = info_of(home, "kyrgyz-small")["source_sha256"]["model.safetensors"]
    assert "ky,kk" in rows["kyrgyz-small"] and sha[:12] in rows["kyrgyz-small"]
    assert rows["kyrgyz-small"].rstrip().endswith(" ky") and rows["tiny"].rstrip().endswith("kk ru")
    assert "pt ct2" in rows["kyrgyz-small"] and "all 99 Whisper" in rows["tiny"]


def test_what_is_not_a_whisper_model_is_refused_and_leaves_nothing(home, cli, sources, tmp_path):
    def files():
        return sorted(str(p.relative_to(home.models)) for p in home.models.rglob("*"))

    before = files()
    empty = tmp_path / "empty"
    empty.mkdir()
    other = tmp_path / "wav2vec"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((sources["hf"] / "config.json").read_text())
    misfit = tmp_path / "misfit"  # config.json says d_model 128; the weights are 64 wide
    misfit.mkdir()
    (misfit / "model.safetensors").write_bytes((sources["hf"] / "model.safetensors").read_bytes())
    (misfit / "config.json").write_text(
        json.dumps({**json.loads((sources["hf"] / "config.json").read_text()), "d_model": 128})
    )
    translator = tmp_path / "translator"  # a CTranslate2 model, but not Whisper
    translator.mkdir()
    name = b"TransformerSpec"
    (translator / "model.bin").write_bytes(struct.pack("<IH", 6, len(name)) + name + bytes(16))

    cases = [
        (empty, "neither a faster-whisper"),
        (other, "model_type 'wav2vec2'"),
        (no_weights, "no PyTorch weights"),
        (misfit, "does not fit Whisper"),
        (translator, "TransformerSpec model, not a Whisper one"),
    ]
    for folder, reason in cases:
        result = cli("models", "add", folder)
        assert result.exit_code == 1 and reason in result.output, (folder.name, result.output)
        assert files() == before, folder.name

    taken = cli("models", "add", sources["ct2"], "--name", "tiny")  # tiny.pt is another model
    assert taken.exit_code == 1 and "--replace" in taken.output
    assert cli("models", "add", sources["ct2"], "--name", "base").exit_code == 1
    assert files() == before
    assert cli("models", "add", sources["ct2"], "--name", "tiny", "--replace").exit_code == 0
    assert (
        info_of(home, "tiny")["format"] == "ctranslate2"
        and (home.models / "whisper" / "tiny-ct2").is_dir()
    )


def test_a_large_v3_layout_pt_is_converted_at_add_time_for_faster_whisper(home, cli, tmp_path):
    """128 mel bins and 51866 tokens (large-v3, turbo): the CTranslate2 folder needs the
    renumbered special tokens and preprocessor_config.json, written at once when faster-whisper
    is the configured engine."""
    import whisper.tokenizer
    from faster_whisper import WhisperModel

    checkpoint = tiny_whisper_v3_checkpoint(tmp_path / "turbo-kk.pt")
    (home.home / config.SETTINGS_FILE).write_text(
        FAST_SETTINGS.replace('engine = "openai-whisper"', 'engine = "faster-whisper"')
    )
    result = cli("models", "add", checkpoint, "--languages", "kk")
    assert result.exit_code == 0, result.output
    folder = models.whisper_dir(home) / "turbo-kk-ct2"
    assert folder.is_dir() and info_of(home, "turbo-kk")["ct2_sha256"] == sha256(
        folder / "model.bin"
    )

    tok = whisper.tokenizer.get_tokenizer(True, num_languages=100, language="kk", task="transcribe")
    ct2_config = json.loads((folder / "config.json").read_text())
    assert (
        len(ct2_config["lang_ids"]) == 100
        and tok.to_language_token("yue") in ct2_config["lang_ids"]
    )
    fw = WhisperModel(str(folder), device="cpu", compute_type="float32", local_files_only=True)
    assert fw.feature_extractor.mel_filters.shape[0] == 128
    assert fw.hf_tokenizer.token_to_id("<|transcribe|>") == tok.transcribe
    assert fw.hf_tokenizer.token_to_id("<|notimestamps|>") == tok.no_timestamps

    mel = torch.randn(1, 128, 3000, generator=torch.Generator().manual_seed(3))
    prompt = list(tok.sot_sequence_including_notimestamps)
    reference = run_openai(models.whisper_dir(home) / "turbo-kk.pt", mel, prompt)
    assert_same_in_faster_whisper(
        folder, (reference[0], reference[1][0, -1]), mel, prompt, atol=5e-3
    )
