"""openai-whisper (PyTorch, float32 on CPU, float16 on a GPU): the reference engine."""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import sys
import types
from typing import Callable, Iterable

import numpy as np

from .raw import EngineOptions, RawSegment, RawWord
from .script import foreign_script_token_ids

log = logging.getLogger(__name__)


class _Progress:
    """Stands in for the tqdm bar inside whisper.transcribe to report how far decoding is."""

    def __init__(self, callback: Callable[[float], None], total: int, **_):
        self.callback, self.total, self.done = callback, max(total, 1), 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        self.done += n
        self.callback(min(self.done / self.total, 1.0))


@contextlib.contextmanager
def _reporting(callback: Callable[[float], None] | None):
    wt = importlib.import_module(
        "whisper.transcribe"
    )  # the module; the package re-exports a function

    if callback is None:
        yield
        return
    original = wt.tqdm
    wt.tqdm = types.SimpleNamespace(tqdm=lambda total, **kw: _Progress(callback, total, **kw))
    try:
        yield
    finally:
        wt.tqdm = original


@functools.lru_cache(maxsize=1)
def _indexed_suppress_tokens() -> type:
    import torch
    from whisper.decoding import SuppressTokens

    class IndexedSuppressTokens(SuppressTokens):
        """whisper's own filter, but its ids become a tensor once per window instead of on every
        decoding step: with the ~45,000 ids of the Cyrillic-only filter that conversion took
        5.7 ms a step, more than the tiny test model's whole step and a large share of base's."""

        def apply(self, logits, tokens):
            index = getattr(self, "index", None)
            if index is None or index.device != logits.device:
                index = self.index = torch.tensor(
                    self.suppress_tokens, dtype=torch.long, device=logits.device
                )
            logits.index_fill_(1, index, -np.inf)

    return IndexedSuppressTokens


@contextlib.contextmanager
def _indexed_suppression():
    """Decoding inside uses :func:`_indexed_suppress_tokens` (the same tokens, masked faster)."""
    decoding = importlib.import_module("whisper.decoding")
    original, decoding.SuppressTokens = decoding.SuppressTokens, _indexed_suppress_tokens()
    try:
        yield
    finally:
        decoding.SuppressTokens = original


@functools.lru_cache(maxsize=1)
def _foreign_ids() -> tuple[int, ...]:
    from whisper.tokenizer import get_tokenizer

    tok = get_tokenizer(multilingual=True)
    return tuple(
        foreign_script_token_ids(
            (i, tok.encoding.decode_single_token_bytes(i)) for i in range(tok.eot)
        )
    )


@functools.lru_cache(maxsize=1)
def _cache_word_alignment() -> None:
    """Whisper's word alignment (``dtw_cpu``, ``backtrace``) is compiled by numba on its first
    call in every process: 2.8 s of CPU before the first word time, more than decoding a short
    file with the tiny model. The same functions, marked for numba's own on-disk cache, are
    compiled once per machine. Where numba finds nowhere to write one, they stay as they are."""
    import numba
    from whisper import timing

    for name in ("backtrace", "dtw_cpu"):  # backtrace first: dtw_cpu calls it
        original = getattr(timing, name)
        try:
            cached = numba.jit(**{**original.targetoptions, "cache": True})(original.py_func)
        except RuntimeError as e:  # "cannot cache function ...: no locator available"
            log.debug("numba cannot cache whisper's %s here: %s", name, e)
            continue
        setattr(timing, name, cached)


def _limit_numba_threads(threads: int) -> None:
    """Whisper's word alignment runs in numba, which keeps one thread per core whose idle threads
    spin: two decoding processes on one machine (a worker with --concurrency 2, or two workers)
    then slowed each other three to ten times. Numba reads its thread count once, on import."""
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
    else:
        log.debug(
            "numba already loaded; its thread count stays %s",
            os.environ.get("NUMBA_NUM_THREADS", "all cores"),
        )


class OpenAIWhisper:
    name = "openai-whisper"
    batches = False  # whisper.transcribe decodes window after window

    def __init__(
        self, checkpoint: str, threads: int = 0, device: str = "cpu", compute_type: str = "float32"
    ):
        if threads:
            _limit_numba_threads(threads)
        import torch
        import whisper

        if threads:
            torch.set_num_threads(threads)
        self.model = whisper.load_model(checkpoint, device=device)
        _cache_word_alignment()
        self.compute_type = compute_type
        self.fp16 = compute_type == "float16"

    def detect_language(self, audio: np.ndarray, allowed: Iterable[str]) -> dict[str, float]:
        import whisper

        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), self.model.dims.n_mels).to(
            self.model.device
        )
        _, probs = self.model.detect_language(mel)
        return {code: float(probs.get(code, 0.0)) for code in allowed}

    def decode(self, audio: np.ndarray, options: EngineOptions, progress=None) -> list[RawSegment]:
        """Window after window: ``batch_size`` and ``clips`` are for engines that batch."""
        import whisper

        beam = {"beam_size": options.beam_size} if options.beam_size > 1 else {}
        # no_speech_threshold=None: voice activity detection already removed the silence, so a
        # window the decoder thinks silent is kept and flagged rather than silently dropped.
        suppress = [-1, *_foreign_ids()] if options.cyrillic_only else [-1]
        with _reporting(progress), _indexed_suppression():
            result = whisper.transcribe(
                self.model,
                audio,
                language=options.language,
                task="transcribe",
                fp16=self.fp16,
                verbose=None,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=False,
                temperature=options.temperatures,
                best_of=options.best_of,
                no_speech_threshold=None,
                suppress_tokens=suppress,
                word_timestamps=options.word_timestamps,
                **beam,
            )
        return [
            RawSegment(
                start=seg["start"],
                end=seg["end"],
                text=seg["text"],
                avg_logprob=seg["avg_logprob"],
                no_speech_prob=seg["no_speech_prob"],
                compression_ratio=seg["compression_ratio"],
                words=tuple(
                    RawWord.of(w["start"], w["end"], w["word"], w["probability"])
                    for w in seg.get("words", [])
                ),
            )
            for seg in result["segments"]
        ]
