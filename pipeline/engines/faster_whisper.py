"""faster-whisper (CTranslate2, in the compute type :mod:`.compute` picks): the default engine,
the same weights as openai-whisper and several times faster."""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from ..media import SAMPLE_RATE
from .raw import EngineOptions, RawSegment, RawWord
from .script import foreign_script_token_ids


def _byte_decoder() -> dict[str, int]:
    """GPT-2 byte-level BPE writes each byte as a printable character; this maps them back."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


class FasterWhisper:
    name = "faster-whisper"
    batches = True

    def __init__(
        self, model_dir: str, threads: int = 0, device: str = "cpu", compute_type: str = "float32"
    ):
        from faster_whisper import WhisperModel

        # local_files_only: a folder path is never looked up on Hugging Face. CTranslate2's own
        # default is 4 threads, which oversubscribes a 2-core machine (8% slower there).
        self.model = WhisperModel(
            model_dir,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads or os.cpu_count() or 0,
            local_files_only=True,
        )
        self.compute_type = compute_type
        self._foreign: list[int] | None = None

    def _foreign_ids(self) -> list[int]:
        if self._foreign is None:
            hf = self.model.hf_tokenizer
            eot = hf.token_to_id("<|endoftext|>")
            raw = _byte_decoder()
            self._foreign = foreign_script_token_ids(
                (i, bytes(raw[c] for c in hf.id_to_token(i))) for i in range(eot)
            )
        return self._foreign

    def detect_language(self, audio: np.ndarray, allowed: Iterable[str]) -> dict[str, float]:
        _, _, probs = self.model.detect_language(audio[: 30 * SAMPLE_RATE])
        found = dict(probs)
        return {code: float(found.get(code, 0.0)) for code in allowed}

    def decode(self, audio: np.ndarray, options: EngineOptions, progress=None) -> list[RawSegment]:
        suppress = [-1, *self._foreign_ids()] if options.cyrillic_only else [-1]
        # no_speech_threshold=None: silence is cut before; a doubtful window is flagged, not dropped
        common = dict(
            language=options.language,
            task="transcribe",
            beam_size=options.beam_size or 1,
            best_of=options.best_of,
            condition_on_previous_text=False,
            initial_prompt=options.initial_prompt,
            suppress_tokens=suppress,
            word_timestamps=options.word_timestamps,
            temperature=list(options.temperatures),
            no_speech_threshold=None,
        )
        if options.clips and options.batch_size > 1 and len(options.temperatures) == 1:
            from faster_whisper import BatchedInferencePipeline

            # The pipeline's windows (pipeline/windows.py), without timestamp tokens: predicting
            # them, the decoder ended most windows of the interview 4-18 s early (after one
            # speaker's turn), and that speech had to be decoded again, at 1.25x the bare call;
            # without, it decodes each window to its end (0.82x). A window is one segment, cut
            # at pauses between its words later (windows.split_long). A new pipeline each call:
            # it carries word-timing state from one call to the next.
            segments, _ = BatchedInferencePipeline(self.model).transcribe(
                audio,
                batch_size=options.batch_size,
                without_timestamps=True,
                clip_timestamps=[{"start": lo, "end": hi} for lo, hi in options.clips],
                **common,
            )
        else:
            segments, _ = self.model.transcribe(audio, vad_filter=False, **common)
        total = max(len(audio) / SAMPLE_RATE, 1e-6)
        out = []
        for seg in segments:  # a generator: decoding happens while iterating
            out.append(
                RawSegment(
                    start=seg.start,
                    end=seg.end,
                    text=seg.text,
                    avg_logprob=seg.avg_logprob,
                    no_speech_prob=seg.no_speech_prob,
                    compression_ratio=seg.compression_ratio,
                    words=tuple(
                        RawWord.of(w.start, w.end, w.word, w.probability) for w in seg.words or []
                    ),
                )
            )
            if progress:
                progress(min(seg.end / total, 1.0))
        if progress:
            progress(1.0)
        return out
