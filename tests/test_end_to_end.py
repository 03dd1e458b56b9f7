"""The whole pipeline driven as a person drives it: files dropped into a watched folder, a
real `testimony watch` process, and the one-shot `testimony process`."""

import hashlib
import json
import re
import signal
from pathlib import Path
from types import SimpleNamespace

from pipeline import config
from pipeline.runner import STAGES
from pipeline.store import Store

from builders import video_without_audio
from conftest import DEADLINE, SAMPLE, drop, wait_until


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def jobs(home):
    store = Store(home.database)
    try:
        return store.jobs()
    finally:
        store.close()


def one_job(home, state):
    def check():
        found = [j for j in jobs(home) if j.state == state]
        return found[0] if found else None

    return wait_until(check, what=f"a job in state {state}")


def test_watch_end_to_end(home, watcher, speech_video, cli):
    w = watcher()
    dropped = drop(speech_video, home.inbox, "KZ-2024-0001_brother.mp4")
    job = one_job(home, "done")
    out = home.outbox / "KZ-2024-0001" / job.interview_id
    assert {p.name for p in out.iterdir()} == {
        "transcript.json",
        "transcript.ru.srt",
        "transcript.ru.vtt",
        "provenance.json",
    } or {p.name for p in out.iterdir()} == {
        "transcript.json",
        "transcript.kk.srt",
        "transcript.kk.vtt",
        "provenance.json",
    }
    data = json.loads((out / "transcript.json").read_text())
    assert data["case_id"] == "KZ-2024-0001" and data["source"]["sha256"] == sha(speech_video)
    assert data["segments"] and data["language"] in ("kk", "ru")
    stored = Path(job.evidence_path)
    assert sha(stored) == sha(speech_video) and stored.is_relative_to(home.evidence)
    assert not dropped.exists(), "the watcher moves the original out of the inbox"
    provenance = json.loads((out / "provenance.json").read_text())
    assert (
        provenance["model"]["sha256"] and provenance["source"]["sha256"] == data["source"]["sha256"]
    )
    assert not any(home.inbox.rglob("*")), "nothing is ever written into the inbox"
    status = cli("status").output
    assert "done (1)" in status and job.interview_id in status
    assert w.stop(signal.SIGINT) == 0
    assert "stopped" in w.output()


def test_files_dropped_while_down_and_extra_watch_folders(home, watcher, speech_video):
    (home.home / "testimony.toml").write_text(
        (home.home / "testimony.toml").read_text() + '\n[[watch]]\npath = "usb"\nlanguage = "ru"\n'
    )
    drop(speech_video, home.home / "usb" / "KG-12" / "day1", "sister.mp4")
    w = watcher()
    job = one_job(home, "done")
    assert (job.case_id, job.language) == ("KG-12", "ru")
    assert (home.outbox / "KG-12" / job.interview_id / "transcript.ru.srt").exists()
    w.stop()


def test_duplicate_drop_is_processed_once(home, watcher, speech_video):
    watcher()
    drop(speech_video, home.inbox, "KZ-5_first.mp4")
    one_job(home, "done")
    drop(speech_video, home.inbox, "KZ-5_again.mp4")
    wait_until(
        lambda: not (home.inbox / "KZ-5_again.mp4").exists(), what="the duplicate to be taken"
    )
    assert len(jobs(home)) == 1
    store = Store(home.database)
    kinds = [e["kind"] for e in store.events()]
    store.close()
    assert kinds.count("duplicate") == 1 and kinds.count("processed") == 1


def test_file_without_case_waits_until_linked(home, watcher, speech_video, cli):
    watcher()
    drop(speech_video, home.inbox, "aunt.mp4")
    job = one_job(home, "needs_case")
    assert "testimony link" in cli("status").output
    result = cli("link", "aunt.mp4", "KZ-31")
    assert result.exit_code == 0, result.output
    done = one_job(home, "done")
    assert done.id == job.id and done.case_id == "KZ-31"
    assert (home.outbox / "KZ-31" / job.interview_id / "transcript.json").exists()


def test_video_without_audio_fails_clearly_and_original_is_safe(home, watcher, tmp_path, cli):
    film = video_without_audio(tmp_path / "KZ-8_film.mp4")
    watcher()
    drop(film, home.inbox)
    job = one_job(home, "failed")
    assert "no audio track" in job.error
    note = (home.outbox / "KZ-8" / job.interview_id / "FAILED.txt").read_text()
    assert "no audio track" in note and job.sha256 in note
    assert sha(Path(job.evidence_path)) == sha(film)
    assert "no audio track" in cli("status").output


def test_corrupt_file_fails_clearly(home, watcher, speech_video):
    watcher()
    (home.inbox / "KZ-8_broken.mp4").write_bytes(speech_video.read_bytes()[:20000])
    job = one_job(home, "failed")
    assert "is incomplete or damaged" in job.error
    assert Path(job.evidence_path).stat().st_size == 20000


def test_killed_mid_transcription_resumes_and_finishes_once(home, watcher):
    w = watcher()
    drop(SAMPLE, home.inbox)
    # Killed once the first window of speech is decoded, long before the last: the sample is
    # 71 s, and each 30-s window takes the test model seconds.
    wait_until(
        lambda: any(
            j.stage == "transcribe" and j.progress > STAGES["transcribe"][0] for j in jobs(home)
        ),
        interval=0.05,
        what="transcription to make progress",
    )
    w.stop(signal.SIGKILL)
    [job] = jobs(home)
    assert job.state == "running"
    out = home.outbox / "KZ-0001" / job.interview_id
    assert not (out / "transcript.json").exists(), "no output from the killed run"

    watcher()
    done = one_job(home, "done")
    assert done.attempts == 2
    json.loads((out / "transcript.json").read_text())
    assert sorted(p.name for p in out.parent.iterdir()) == [job.interview_id], (
        "no staging left behind"
    )
    store = Store(home.database)
    kinds = [e["kind"] for e in store.events()]
    store.close()
    assert kinds.count("processed") == 1 and kinds.count("requeued") == 1
    assert not any(home.work.iterdir()), "working copies cleaned up"


def test_second_watcher_on_the_same_home_refuses(home, watcher):
    first = watcher()
    # Its lock taken (it says "watching" a moment before, which a loaded machine can stretch).
    lock = home.home / ".watch.lock"
    wait_until(
        lambda: lock.exists() and lock.read_text().strip() == str(first.proc.pid),
        what="the first watcher to hold the lock",
    )
    second = watcher()
    assert second.proc.wait(timeout=DEADLINE) == 1
    assert "already watching" in second.output()


def test_process_one_shot_leaves_the_users_file(home, cli, speech_video, tmp_path):
    mine = tmp_path / "KZ-77_uncle.mp4"
    mine.write_bytes(speech_video.read_bytes())
    before = mine.stat()
    result = cli("process", mine, "--language", "kk")
    assert result.exit_code == 0, result.output
    assert mine.stat().st_mtime == before.st_mtime and sha(mine) == sha(speech_video)
    [job] = jobs(home)
    assert job.state == "done" and (Path(job.output_dir) / "transcript.kk.vtt").exists()
    again = cli("process", mine)
    assert "already taken in" in again.output and len(jobs(home)) == 1


def test_process_reports_failures_with_exit_code(home, cli, tmp_path):
    film = video_without_audio(tmp_path / "KZ-78_film.mp4")
    result = cli("process", film)
    assert result.exit_code == 1 and "no audio track" in result.output
    missing = cli("process", tmp_path / "nope.mp4")
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_watcher_imports_an_edited_review_file(home, watcher, speech_video, cli):
    from pipeline import transcript

    watcher()
    drop(speech_video, home.inbox, "KZ-40_cousin.mp4")
    job = one_job(home, "done")
    assert cli("review", "file", job.interview_id).exit_code == 0
    out = home.outbox / "KZ-40" / job.interview_id
    review = out / "review.txt"
    machine_label = transcript.load(out / "transcript.json").segments[0].speaker  # S1, or none
    review.write_text(
        re.sub(r"(?m)^speaker:.*$", "speaker: mother", review.read_text(encoding="utf-8"), count=1),
        encoding="utf-8",
    )
    wait_until(
        lambda: transcript.load_current(out).segments[0].speaker == "mother",
        what="the watcher to import review.txt",
    )
    assert transcript.load(out / "transcript.json").segments[0].speaker == machine_label, (
        "machine output untouched"
    )


def test_a_review_file_is_imported_once_it_stands_still(home, monkeypatch):
    """An editor saving in place empties the file before writing it: the empty file is not
    imported (as "no edits", rewritten over the save that followed: a lost edit, and a hang of
    the test above)."""
    from pipeline import watch
    from pipeline.review import textfile
    from pipeline.watch import ReviewFiles

    imported = []
    monkeypatch.setattr(
        textfile, "import_review_file", lambda settings, path: imported.append(path.read_text())
    )
    clock = [0.0]  # the watcher's polls, at the default interval
    monkeypatch.setattr(watch, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def scan():
        files.scan()
        clock[0] += config.Settings.poll_seconds

    review = home.outbox / "KZ-41" / "x" / "review.txt"
    review.parent.mkdir(parents=True)
    review.write_text("")
    files = ReviewFiles(home)
    scan()
    review.write_text("speaker: mother\n")
    while clock[0] < 2 * watch.REVIEW_SETTLE_SECONDS:
        scan()
    assert imported == ["speaker: mother\n"]


def test_process_a_folder(home, cli, speech_video, tmp_path):
    folder = tmp_path / "card" / "KZ-90"
    folder.mkdir(parents=True)
    (folder / "a.mp4").write_bytes(speech_video.read_bytes())
    (folder / "b.mp4").write_bytes(speech_video.read_bytes() + b"\0")
    (folder / "notes.txt").write_text("not a recording")
    result = cli("process", tmp_path / "card", "--case", "KZ-90")
    assert result.exit_code == 0, result.output
    assert sorted(j.state for j in jobs(home)) == ["done", "done"]
