"""Everyone who writes reviewed.json (review page, withhold, translate --pending) holds one lock;
translate --pending fills in a started review's English without touching a reviewer's; withhold
takes the outbox's machine subtitles, which still name people, out of reach."""

import fcntl
import os

from pipeline import transcript as tr
from pipeline.review.edits import Reviews
from pipeline.reviewed_lock import LOCK_FILE

SEGMENTS = [
    (0.0, 1.4, "ru", "Мой брат живёт в городе."),
    (1.5, 3.0, "ru", "Где ваш сын сейчас."),
    (3.2, 4.9, "ru", "Его забрали ночью."),
]


def lock_is_held(folder) -> bool:
    """Try the lock from a second open file: it fails only while someone holds it."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_writers_share_one_lock_and_pending_english_fills_a_started_review(
    home, cli, argos_ru, speech_video, monkeypatch
):
    result = cli("process", speech_video, "--case", "KZ-5", "--language", "ru")
    assert result.exit_code == 0 and "testimony models add" in result.output  # no English yet
    [folder] = (home.outbox / "KZ-5").iterdir()
    assert (folder / "transcript.ru.srt").exists()
    t = tr.load(folder / tr.MACHINE_FILE)
    t.segments = [
        tr.Segment(i, a, b, lang, text, None) for i, (a, b, lang, text) in enumerate(SEGMENTS)
    ]
    tr.write_atomic(
        folder / tr.REVIEWED_FILE, t.to_json()
    )  # a review started before English existed

    writes = []
    real_write = tr.write_atomic

    def watched(path, content):
        if path.name == tr.REVIEWED_FILE:
            writes.append(lock_is_held(path.parent))
        real_write(path, content)

    monkeypatch.setattr(tr, "write_atomic", watched)

    reviews = Reviews(home)
    interview = reviews.find(folder.name)
    reviews.save(interview, "Aigerim", 0, 0, {"english": "Written by a reviewer."})
    reviews.close()
    result = cli("withhold", folder.name, "Сын")
    assert result.exit_code == 0, result.output
    assert "machine subtitles" in result.output
    assert not list(folder.glob("transcript.*.srt")) and not list(folder.glob("transcript.*.vtt"))

    assert cli("models", "add", argos_ru).exit_code == 0
    result = cli("translate", "--pending")
    assert result.exit_code == 0, result.output
    reviewed = tr.load(folder / tr.REVIEWED_FILE)
    assert reviewed.segments[0].english == "Written by a reviewer."  # a person's English is kept
    assert all(s.english for s in reviewed.segments[1:])  # the machine's fills the gaps
    assert reviewed.review["withheld_terms"] == ["Сын"]  # withhold's change survived
    assert tr.load(folder / tr.MACHINE_FILE).segments[0].english is not None
    # The machine subtitles stay out of the outbox now that people are withheld.
    assert not list(folder.glob("transcript.*.srt")) and not list(folder.glob("transcript.*.vtt"))

    assert len(writes) == 3 and all(writes), (
        writes
    )  # review page, withhold, translate: each under the lock
