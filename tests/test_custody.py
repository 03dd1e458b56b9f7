"""Chain of custody: verify finds any change to originals, exports or the log itself."""

import json
import sqlite3
from pathlib import Path

import pytest

from pipeline.hashing import sha256_file
from pipeline.store import Store


@pytest.fixture
def processed(home, cli, speech_video, tmp_path):
    result = cli("process", speech_video, "--case", "KZ-1", "--language", "kk")
    assert result.exit_code == 0, result.output
    store = Store(home.database)
    [job] = store.jobs()
    store.close()
    return job


def raw(home) -> sqlite3.Connection:
    """A connection that acts as someone tampering with the database behind the tool's back."""
    db = sqlite3.connect(home.database, isolation_level=None)
    db.execute("DROP TRIGGER events_no_update")
    db.execute("DROP TRIGGER events_no_delete")
    return db


def test_untouched_home_verifies(home, cli, processed):
    result = cli("verify")
    assert result.exit_code == 0, result.output
    assert "hash chain intact" in result.output and "0 not" in result.output


def test_log_is_append_only(home, processed):
    db = sqlite3.connect(home.database)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE events SET kind='x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM events")


def test_changed_entry_is_detected(home, cli, processed):
    raw(home).execute(
        "UPDATE events SET detail=replace(detail, 'root', 'someone') WHERE kind='intake'"
    )
    result = cli("verify")
    assert result.exit_code == 1 and "entry 1: was changed" in result.output


def test_removed_entry_is_detected(home, cli, processed):
    Store(home.database).event(
        "linked", sha256=processed.sha256, interview_id=processed.interview_id
    )
    raw(home).execute("DELETE FROM events WHERE id=2")
    result = cli("verify")
    assert result.exit_code == 1 and "does not follow" in result.output


def test_entries_removed_from_the_end_are_detected(home, cli, processed):
    raw(home).execute("DELETE FROM events WHERE id=(SELECT MAX(id) FROM events)")
    result = cli("verify")
    assert result.exit_code == 1 and "removed from the end" in result.output


def test_altered_original_is_detected(home, cli, processed):
    original = Path(processed.evidence_path)
    original.chmod(0o644)
    with open(original, "ab") as fh:
        fh.write(b"\0")
    result = cli("verify", "KZ-1")
    assert result.exit_code == 1 and "has changed since intake" in result.output


def test_missing_original_is_detected(home, cli, processed):
    Path(processed.evidence_path).unlink()
    result = cli("verify")
    assert result.exit_code == 1 and "missing from the evidence store" in result.output


def test_altered_export_is_detected(home, cli, processed, tmp_path):
    exported = tmp_path / "press.srt"
    exported.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    store = Store(home.database)
    store.event(
        "export",
        sha256=processed.sha256,
        interview_id=processed.interview_id,
        files={str(exported): sha256_file(exported)},
    )
    store.close()
    assert cli("verify").exit_code == 0
    exported.write_text("changed")
    result = cli("verify")
    assert result.exit_code == 1 and "differs from what was exported" in result.output


def test_custody_in_plain_language_and_json(home, cli, processed):
    text = cli("custody", processed.interview_id).output
    assert "received" in text and processed.sha256[:12] not in text.split("received")[0]
    assert "transcribed with openai-whisper model tiny" in text
    entries = json.loads(cli("custody", processed.interview_id, "--json").output)
    assert [e["kind"] for e in entries] == ["intake", "processed"]
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    assert entries[0]["detail"]["user"] and entries[0]["detail"]["host"]
    assert cli("custody", "nope").exit_code == 1
