"""Small real artefacts built in code for plumbing tests: a random-weight Whisper checkpoint,
a random-weight Argos package, and video files made with the real ffmpeg.

They go through the real loaders (whisper.load_model, argostranslate's installer,
CTranslate2, SentencePiece, ffmpeg); their output text is garbage and is never asserted on.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np

from pipeline.media import ffmpeg_binary

NUMBER_TOKEN, KAZAKH_WORD_TOKEN = 502, 6046  # " 1" (reads as no language), " мен" (Kazakh "I")
EOT_TOKEN = 50257  # <|endoftext|> in the multilingual vocabulary
# The decoder position where a window's text ends (after its 3 start tokens, and any prompt): a
# dozen words, enough to loop as a broken model does; every decoded token costs every test time.
END_AT = 16


def tiny_whisper_checkpoint(
    path: Path, word: int | None = NUMBER_TOKEN, seed: int = 0, end_at: int = END_AT, **dims
) -> Path:
    """A random-weight Whisper (width 64, one layer each side) that writes ``word`` over and over
    until position ``end_at``, then ends the window; ``dims`` override its shape. ``word=None``
    leaves the decoder unbiased (its text is noise, to the 224-token limit)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    model = Whisper(
        ModelDimensions(
            **{
                "n_mels": 80,
                "n_audio_ctx": 1500,
                "n_audio_state": 64,
                "n_audio_head": 2,
                "n_audio_layer": 1,
                "n_vocab": 51865,
                "n_text_ctx": 448,
                "n_text_state": 64,
                "n_text_head": 2,
                "n_text_layer": 1,
                **dims,
            }
        )
    )
    with torch.no_grad():
        # Whisper leaves the decoder's positional embedding uninitialised (torch.empty), which
        # makes every logit NaN. Fill it, and bias the final layer norm towards one token so
        # that the decoder writes it, looping as a broken model would: by default a number,
        # which belongs to no language, so segments keep the language they were decoded in.
        model.decoder.positional_embedding.normal_(0, 0.01)
        if word is not None:
            embedding, ln = model.decoder.token_embedding.weight, model.decoder.ln
            # Dimension 0 carries only the end of text: it grows huge and positive from
            # position end_at on, so the decoder ends each window there instead
            # of running to whisper's 224-token limit (ten times the work for every test).
            embedding[:, 0] = 0
            embedding[EOT_TOKEN, 0] = 1
            model.decoder.positional_embedding[:, 0] = -100
            model.decoder.positional_embedding[end_at:, 0] = 100
            vector = embedding[word]
            ln.weight.zero_()
            ln.weight[0] = 10
            ln.bias.copy_(3 * vector / vector.norm())
    torch.save({"dims": model.dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


def _fill_spec(spec, d_model: int, vocab: int, rng: np.random.Generator) -> None:
    def fill(layer, name, value):
        if value is not None:
            return
        attr = name.split("/")[-1]
        scope = name.lower()
        if attr == "gamma":
            array = np.ones(d_model, np.float32)
        elif attr == "beta":
            array = np.zeros(d_model, np.float32)
        elif "embeddings" in scope and attr == "weight":
            array = rng.normal(0, 0.1, (vocab, d_model)).astype(np.float32)
        elif "projection" in scope:
            array = (
                rng.normal(0, 0.1, (vocab, d_model)) if attr == "weight" else np.zeros(vocab)
            ).astype(np.float32)
        else:
            out_dim, in_dim = d_model, d_model
            if "linear_0" in scope and "self_attention" in scope:
                out_dim = 3 * d_model
            elif "linear_1" in scope and "/attention/" in scope:
                out_dim = 2 * d_model
            elif "ffn/linear_0" in scope:
                out_dim = 2 * d_model
            elif "ffn/linear_1" in scope:
                in_dim = 2 * d_model
            shape = (out_dim, in_dim) if attr == "weight" else (out_dim,)
            array = rng.normal(0, 0.1, shape).astype(np.float32)
        setattr(layer, attr, array)

    spec._visit(fill)


# What the tiny translation models' 60-piece SentencePiece vocabularies are trained on.
TEST_SENTENCES = [
    "мой брат живёт в городе",
    "где ваш сын сейчас",
    "менің ағам қалада тұрады",
    "my brother lives in the city",
    "where is your son now",
    "they took him at night",
    "его забрали ночью",
    "оны түнде алып кетті",
    "we have not heard from her since",
]


def train_sentencepiece(corpus: Path, prefix: Path, sentences: list[str]) -> None:
    """A 60-piece SentencePiece model at ``prefix``.model from ``sentences`` (three times over),
    written to ``corpus`` first: the trainer reads a file."""
    import sentencepiece as spm

    corpus.write_text("\n".join(sentences * 3), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=60,
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )


def tiny_argos_package(
    folder: Path,
    from_code: str = "ru",
    to_code: str = "en",
    languages: list[str] | None = None,
    target_prefix: str | None = None,
    source_tokens: list[str] | None = None,
) -> Path:
    """Build ``translate-FROM_TO.argosmodel``: a 1-layer d=32 CTranslate2 Transformer with a
    small SentencePiece model; ``languages``/``target_prefix`` make it a multilingual one, and
    ``source_tokens`` (e.g. ``kaz_Cyrl``) join its vocabulary as NLLB's language tokens do."""
    import ctranslate2
    import sentencepiece as spm

    name = f"translate-{from_code}_{to_code}"
    root = folder / name
    (root / "model").mkdir(parents=True, exist_ok=True)
    train_sentencepiece(folder / "corpus.txt", root / "sentencepiece", TEST_SENTENCES)
    sp = spm.SentencePieceProcessor(model_file=str(root / "sentencepiece.model"))
    vocab = ["<blank>", "<s>", "</s>"] + [
        sp.id_to_piece(i)
        for i in range(sp.get_piece_size())
        if sp.id_to_piece(i) not in ("<unk>", "<s>", "</s>")
    ]
    vocab.insert(1, "<unk>")
    if target_prefix:
        vocab.append(target_prefix)
    vocab.extend(source_tokens or [])
    spec = ctranslate2.specs.TransformerSpec.from_config(1, 2)
    _fill_spec(spec, 32, len(vocab), np.random.default_rng(0))
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.save(str(root / "model"))
    metadata = {
        "package_version": "0.1",
        "argos_version": "1.11",
        "from_code": from_code,
        "from_name": from_code,
        "to_code": to_code,
        "to_name": to_code,
    }
    if languages:
        metadata["languages"] = languages
    if target_prefix:
        metadata["target_prefix"] = target_prefix
    (root / "metadata.json").write_text(json.dumps(metadata))
    archive = folder / f"{name}.argosmodel"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(root.rglob("*")):
            zf.write(file, file.relative_to(folder))
    return archive


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-y", "-hide_banner", "-loglevel", "error", *args], check=True)


def video_with_audio(path: Path, audio: Path, seconds: float | None = None) -> Path:
    """An H.264/AAC MP4 carrying ``audio`` under a plain picture, as a phone would record."""
    limit = ["-t", str(seconds)] if seconds else []
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:s=160x120:r=5",
        "-i",
        str(audio),
        *limit,
        "-shortest",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        str(path),
    )
    return path


def video_without_audio(path: Path, seconds: float = 2) -> Path:
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc=s=160x120:r=5:d={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


# Whisper in the other published formats, derived from an openai-whisper checkpoint ----------

# openai-whisper -> Hugging Face names, written out independently of pipeline.models' mapping.
_HF_BLOCK = {
    "attn.query": "self_attn.q_proj",
    "attn.key": "self_attn.k_proj",
    "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj",
    "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj",
    "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj",
    "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp.0": "fc1",
    "mlp.2": "fc2",
    "mlp_ln": "final_layer_norm",
}
_HF_OTHER = {
    "encoder.positional_embedding": "model.encoder.embed_positions.weight",
    "decoder.positional_embedding": "model.decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "model.decoder.embed_tokens.weight",
    "encoder.ln_post.weight": "model.encoder.layer_norm.weight",
    "encoder.ln_post.bias": "model.encoder.layer_norm.bias",
    "decoder.ln.weight": "model.decoder.layer_norm.weight",
    "decoder.ln.bias": "model.decoder.layer_norm.bias",
}


def _hf_key(name: str) -> str:
    if name in _HF_OTHER:
        return _HF_OTHER[name]
    if ".blocks." in name:
        side, _, index, rest = name.split(".", 3)
        module, param = rest.rsplit(".", 1)
        return f"model.{side}.layers.{index}.{_HF_BLOCK[module]}.{param}"
    return f"model.{name}"  # encoder.conv1/conv2


def write_safetensors(path: Path, tensors: dict) -> Path:
    """A ``.safetensors`` file as ``transformers``' ``save_pretrained`` writes it."""
    from safetensors.torch import save_file

    save_file(
        {name: tensor.detach().contiguous() for name, tensor in tensors.items()},
        str(path),
        metadata={"format": "pt"},
    )
    return path


def tiny_hf_whisper_folder(
    checkpoint: Path, folder: Path, weights: str = "safetensors", lang_to_id: dict | None = None
) -> Path:
    """A Hugging Face Whisper checkpoint folder (config.json, model.safetensors or
    pytorch_model.bin, generation_config.json) holding the weights of an openai-whisper ``.pt``."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu")
    dims, state = saved["dims"], saved["model_state_dict"]
    folder.mkdir(parents=True, exist_ok=True)
    hf = {_hf_key(name): tensor for name, tensor in state.items()}
    if weights == "safetensors":
        write_safetensors(
            folder / "model.safetensors", hf
        )  # tied proj_out left out, as save_pretrained does
    else:
        torch.save(
            {**hf, "proj_out.weight": hf["model.decoder.embed_tokens.weight"]},
            folder / "pytorch_model.bin",
        )
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "whisper",
                "architectures": ["WhisperForConditionalGeneration"],
                "num_mel_bins": dims["n_mels"],
                "vocab_size": dims["n_vocab"],
                "d_model": dims["n_audio_state"],
                "max_source_positions": dims["n_audio_ctx"],
                "encoder_attention_heads": dims["n_audio_head"],
                "encoder_layers": dims["n_audio_layer"],
                "max_target_positions": dims["n_text_ctx"],
                "decoder_attention_heads": dims["n_text_head"],
                "decoder_layers": dims["n_text_layer"],
                "activation_function": "gelu",
                "scale_embedding": False,
                "torch_dtype": "float32",
            },
            indent=2,
        )
    )
    generation = {"decoder_start_token_id": 50258, "eos_token_id": 50257}
    if lang_to_id:
        generation["lang_to_id"] = lang_to_id
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2))
    return folder


def tiny_ct2_whisper_folder(checkpoint: Path, folder: Path, quantization: str = "float32") -> Path:
    """A faster-whisper (CTranslate2) folder of an openai-whisper ``.pt``, via pipeline.models' converter."""
    import torch

    from pipeline import models

    saved = torch.load(checkpoint, map_location="cpu")
    return models.write_ct2(
        saved["model_state_dict"], saved["dims"], folder, quantization=quantization
    )


def tiny_whisper_v3_checkpoint(path: Path) -> Path:
    """A random-weight checkpoint laid out like large-v3 and turbo: 128 mel bins, and a
    vocabulary of 51866 (a 100th language, so every special token id moves by one)."""
    return tiny_whisper_checkpoint(
        path, word=None, seed=1, n_mels=128, n_vocab=51866, n_text_layer=2
    )


# Hugging Face repositories as transformers writes them (for the loopback hub) ----------------


def transformers_whisper_folder(checkpoint: Path, folder: Path) -> Path:
    """The weights of an openai-whisper ``.pt`` saved by transformers' own ``save_pretrained``
    (config.json, generation_config.json, model.safetensors without the tied output layer)."""
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    saved = torch.load(checkpoint, map_location="cpu")
    dims, state = saved["dims"], saved["model_state_dict"]
    config = WhisperConfig(
        vocab_size=dims["n_vocab"],
        num_mel_bins=dims["n_mels"],
        d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"],
        encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"],
        decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"],
        decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"],
        max_target_positions=dims["n_text_ctx"],
    )
    model = WhisperForConditionalGeneration(config)
    hf = {_hf_key(name): tensor for name, tensor in state.items()}
    missing, unexpected = model.load_state_dict(hf, strict=False)
    assert not unexpected and set(missing) <= {"proj_out.weight"}, (missing, unexpected)
    model.save_pretrained(folder)
    return folder


def transformers_nllb_folder(folder: Path) -> Path:
    """A random-weight NLLB-200 (M2M100, width 16, one layer each side) with a 60-piece
    SentencePiece model, saved by transformers as facebook/nllb-200-* are laid out."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder.parent / f"{folder.name}-corpus.txt"
    train_sentencepiece(corpus, folder / "sentencepiece.bpe", TEST_SENTENCES[:6])
    corpus.unlink()
    (folder / "sentencepiece.bpe.vocab").unlink()
    tokenizer = NllbTokenizer(vocab_file=str(folder / "sentencepiece.bpe.model"))
    torch.manual_seed(0)
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def sound_of(path: Path) -> np.ndarray:
    """The first sound track of ``path`` as 16 kHz mono floats, as ffmpeg decodes it."""
    pcm = subprocess.run(
        [
            ffmpeg_binary(),
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
