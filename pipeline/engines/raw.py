"""What an engine is asked (:class:`EngineOptions`) and what it hands back (:class:`RawSegment`
made of :class:`RawWord`), in the one shape both engines share.

Its own module so that engine modules need not import the package that loads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawWord:
    """One word in time (seconds of the decoded audio), as the decoder timed it."""

    start: float
    end: float
    text: str
    probability: float

    @classmethod
    def of(cls, start: float, end: float, text: str, probability: float) -> RawWord:
        """A word as an engine reports it: plain floats, text without its leading space."""
        return cls(float(start), float(end), text.strip(), float(probability))


@dataclass(frozen=True)
class RawSegment:
    """One segment as the decoder gave it, with the decoder's own figures on it."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[RawWord, ...] = ()


@dataclass(frozen=True)
class EngineOptions:
    """How an engine decodes: Whisper's sliding window, never conditioned on the previous window
    (so one bad window cannot poison the rest); a window that fails the quality checks is
    decoded again at the next of ``temperatures``, keeping the best of ``best_of`` samples.
    ``cyrillic_only`` suppresses every token of another script. ``batch_size`` > 1 and
    ``clips`` ((start, end) seconds, each at most 30 s): an engine that ``batches`` decodes only
    the clips, that many side by side at one temperature, with times in the whole audio's."""

    language: str
    initial_prompt: str | None = None
    temperatures: tuple[float, ...] = (0.0,)
    beam_size: int = 1
    best_of: int = 5
    cyrillic_only: bool = False
    word_timestamps: bool = True
    batch_size: int = 0
    clips: tuple[tuple[float, float], ...] = ()
