from pathlib import Path

import numpy as np
import pytest

from pipeline import media

from builders import ffmpeg, video_without_audio


def test_video_becomes_16k_mono_audio(speech_video, tmp_path):
    wav = tmp_path / "a.wav"
    seconds = media.extract_audio(speech_video, wav)
    audio = media.load_wav(wav)
    assert 4.5 < seconds < 5.5
    assert audio.dtype == np.float32 and len(audio) == pytest.approx(seconds * 16000, abs=1)
    assert np.abs(audio).max() > 0.05, "real speech, not silence"
    assert not list(tmp_path.glob("*.part*"))


def test_video_without_audio_says_so(tmp_path):
    silent_film = video_without_audio(tmp_path / "film.mp4")
    before = silent_film.read_bytes()
    with pytest.raises(media.MediaError, match="has no audio track"):
        media.extract_audio(silent_film, tmp_path / "a.wav")
    assert silent_film.read_bytes() == before
    assert not (tmp_path / "a.wav").exists()


def test_truncated_video_is_called_incomplete(speech_video, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(speech_video.read_bytes()[: speech_video.stat().st_size // 3])
    with pytest.raises(media.MediaError, match="is incomplete or damaged"):
        media.extract_audio(cut, tmp_path / "a.wav")


def test_random_bytes_named_mp4_are_not_a_recording(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).bytes(50_000))
    with pytest.raises(
        media.MediaError, match="is not a recording: it is data of no audio or video format"
    ):
        media.extract_audio(junk, tmp_path / "a.wav")


def test_zero_length_audio_is_refused(tmp_path):
    empty = tmp_path / "empty.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", str(empty))
    with pytest.raises(media.MediaError):
        media.extract_audio(empty, tmp_path / "a.wav")


def test_ffmpeg_is_found_without_a_system_install():
    assert Path(media.ffmpeg_binary()).exists()


def test_long_audio_comes_in_pieces_cut_in_pauses(speech_video, tmp_path):
    wav = tmp_path / "a.wav"
    media.extract_audio(speech_video, wav)
    whole = media.load_wav(wav)
    pieces = list(media.wav_chunks(wav, chunk_seconds=1.0, search_seconds=0.3))
    assert len(pieces) >= 5 and all(len(p) <= 16000 for _, p in pieces)
    assert np.array_equal(np.concatenate([p for _, p in pieces]), whole), "nothing lost or repeated"
    offsets = [o for o, _ in pieces]
    assert offsets == sorted(offsets) and offsets[0] == 0


def _stereo(source: Path, target: Path, right: str) -> Path:
    ffmpeg("-i", str(source), "-af", f"pan=stereo|c0=c0|c1={right}", str(target))
    return target


def test_channels_that_cancel_in_the_mix_are_transcribed_from_one_and_said(tmp_path):
    """Found by the independent check: a phase-inverted stereo recording became silence."""
    from conftest import KK_CLIP

    inverted = _stereo(KK_CLIP, tmp_path / "inverted.wav", "-1*c0")
    wav = tmp_path / "a.wav"
    media.extract_audio(inverted, wav)
    mono = tmp_path / "mono.wav"
    media.extract_audio(KK_CLIP, mono)
    level = np.sqrt(np.mean(media.load_wav(wav) ** 2))
    assert level > 0.5 * np.sqrt(np.mean(media.load_wav(mono) ** 2)), "the speech, not silence"
    assert "phase-inverted" in " ".join(media.extraction_warnings(wav))
    assert not media.extraction_warnings(mono)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.wav",
        "a.wav.warning.txt",
        "inverted.wav",
        "mono.wav",
    ]


def test_channels_that_agree_and_quiet_recordings_carry_no_warning(tmp_path):
    from conftest import KK_CLIP

    same = _stereo(KK_CLIP, tmp_path / "same.wav", "c0")
    quiet = tmp_path / "quiet.wav"
    ffmpeg("-i", str(KK_CLIP), "-af", "volume=-55dB", str(quiet))
    for source in (same, quiet):
        wav = tmp_path / f"{source.stem}.out.wav"
        media.extract_audio(source, wav)
        assert not media.extraction_warnings(wav), source.name
