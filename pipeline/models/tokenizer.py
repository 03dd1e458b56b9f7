"""Whisper's tokenizer as CTranslate2 and faster-whisper need it.

Checkpoints in the openai ``.pt`` form carry no tokenizer, and openai-whisper builds its own
from tiktoken files; faster-whisper needs ``tokenizer.json`` and a vocabulary in the model
folder. The text tokens are the same in every multilingual Whisper, so the embedded base
model's ``tokenizer.json`` serves, with the special tokens renumbered for other vocabularies.
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import EMBEDDED_WHEELS, ModelError, wheel_data
from .openai_pt import MULTILINGUAL_VOCAB, whisper_languages


def _embedded_tokenizer() -> Path:
    return wheel_data(EMBEDDED_WHEELS[0]) / "tokenizer.json"


def whisper_tokenizer_json(n_vocab: int) -> str:
    """``tokenizer.json`` for a multilingual Whisper vocabulary of ``n_vocab`` tokens.

    The embedded base model's (99 languages); for another language count (large-v3 has 100)
    its special tokens are renumbered by openai-whisper's rule, the same that ``whisper``
    applies to such a checkpoint. The text tokens are the same in every multilingual Whisper.
    """
    text = _embedded_tokenizer().read_text(encoding="utf-8")
    if n_vocab == MULTILINGUAL_VOCAB:
        return text
    if n_vocab < MULTILINGUAL_VOCAB:
        raise ModelError(
            f"an English-only Whisper model (vocabulary of {n_vocab}) cannot be prepared for "
            f"faster-whisper here; use the openai-whisper engine for it"
        )
    from whisper.tokenizer import LANGUAGES

    languages = whisper_languages(n_vocab)
    if len(languages) != n_vocab - 51765 - 1:
        raise ModelError(
            f"a Whisper vocabulary of {n_vocab} tokens is not one openai-whisper knows "
            f"({len(LANGUAGES)} languages at most)"
        )
    data = json.loads(text)
    first = data["added_tokens"][0]
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *[f"<|{code}|>" for code in languages],
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
    ]
    data["added_tokens"] = [
        {**first, "id": first["id"] + i, "content": token} for i, token in enumerate(specials)
    ]
    ids = {t["content"]: t["id"] for t in data["added_tokens"]}
    for token, entry in (data.get("post_processor") or {}).get("special_tokens", {}).items():
        entry["ids"] = [ids[token]]
    return json.dumps(data, ensure_ascii=False)


def tokenizer_vocabulary(tokenizer_text: str, n_vocab: int) -> list[str]:
    """CTranslate2's vocabulary (token per id) from ``tokenizer.json``, timestamps appended."""
    from tokenizers import Tokenizer

    try:
        vocab = Tokenizer.from_str(tokenizer_text).get_vocab(with_added_tokens=True)
    except Exception as exc:
        raise ModelError(f"tokenizer.json cannot be read: {exc}") from None
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    if sorted(vocab.values()) != list(range(len(tokens))) or "<|notimestamps|>" not in vocab:
        raise ModelError(
            "tokenizer.json is not a Whisper tokenizer (ids with gaps, or no <|notimestamps|>)"
        )
    if len(tokens) > n_vocab:
        raise ModelError(
            f"tokenizer.json has {len(tokens)} tokens, more than the model's {n_vocab}"
        )
    first_timestamp = vocab["<|notimestamps|>"] + 1
    tokens += ["<|%.2f|>" % ((i - first_timestamp) * 0.02) for i in range(len(tokens), n_vocab)]
    return tokens
