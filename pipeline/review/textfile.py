"""The plain-text review file, ``outbox/<case>/<interview>/review.txt``, for any text editor.

One block per segment; its ``=== segment`` line names the segment and the revision the block
was written from. Importing compares each block with that revision: an untouched block
changes nothing, an edited block is saved if nobody changed the segment since, and is refused
(with its line number) if someone did. A malformed file is refused whole, with every line
that is wrong and why; nothing is saved then, and the file is left as it is for fixing.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import transcript as tr
from ..config import LANGUAGES, Settings
from .changes import Edit, NotFound, ReviewError
from .edits import Reviews
from .interview import Interview
from .reviewfile import REVIEW_FILE, record_written, unescape, write_review_file

log = logging.getLogger(__name__)

ERRORS_FILE = "review.ERRORS.txt"
NOTES_FILE = "review.notes.txt"  # notes a reviewer wrote as '#' lines, kept after import
FIRST_LINE = re.compile(r"^# testimony review file: interview (\S+)")
BLOCK = re.compile(
    r"^=== segment (\d+) \| (\d+:\d\d:\d\d\.\d{3}) --> (\d+:\d\d:\d\d\.\d{3}) \| rev (\d+)\s*$"
)
BLOCK_EXAMPLE = "=== segment 3 | 00:00:01.200 --> 00:00:04.000 | rev 2"
RENAME = re.compile(
    r"^speaker (.+?) -> (.*)$"
)  # before the first block: a name for a speaker, everywhere


class ReviewFileError(ReviewError):
    """The file was refused; ``problems`` are (line number, what is wrong)."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]):
        self.path, self.problems = path, problems
        lines = "\n".join(f"  {path.name} line {n}: {what}" for n, what in problems)
        super().__init__(
            f"{path} was not imported, nothing was changed:\n{lines}\n"
            f"Fix these lines and import it again."
        )


@dataclass
class Block:
    line: int
    segment_id: int
    start: str
    end: str
    revision: int
    fields: dict = field(default_factory=dict)


@dataclass
class ImportResult:
    interview_id: str
    changed: list[int]
    unchanged: int


def parse(text: str, path: Path) -> tuple[str | None, list[Block]]:
    """The interview ID from the first line (None if absent) and the blocks; ReviewFileError if malformed."""
    problems: list[tuple[int, str]] = []
    blocks: list[Block] = []
    # Lines as a text editor counts them: str.splitlines() would also break at \x1e, \x85 or
    # U+2028, which can sit inside a segment's text, and shift every line number after it.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    first = FIRST_LINE.match(lines[0]) if lines else None
    block: Block | None = None
    body: str | None = None  # "text" or "english" while reading a body
    seen: dict[int, int] = {}

    def close(at: int) -> None:
        if block is None:
            return
        if body != "english":
            problems.append(
                (
                    block.line,
                    f"segment {block.segment_id} has no {'english:' if body else 'text:'} "
                    f"line before line {at}",
                )
            )
        for key in ("language", "text"):
            block.fields.setdefault(key, None)
        if block.fields["language"] is None:
            problems.append((block.line, f"segment {block.segment_id} has no 'language:' line"))
        for key in ("text", "english"):
            if isinstance(block.fields.get(key), list):
                block.fields[key] = "\n".join(block.fields[key]).strip()
        block.fields["english"] = block.fields.get("english") or None  # empty: no English yet
        blocks.append(block)

    for n, line in enumerate(lines, 1):
        if line.startswith("==="):
            close(n)
            block, body = None, None
            m = BLOCK.match(line)
            if not m:
                problems.append((n, f"a segment line must look like '{BLOCK_EXAMPLE}'"))
                continue
            seg_id = int(m[1])
            if seg_id in seen:
                problems.append(
                    (n, f"segment {seg_id} appears twice (also at line {seen[seg_id]})")
                )
            seen[seg_id] = n
            block = Block(n, seg_id, m[2], m[3], int(m[4]))
        elif body is not None:
            if body == "text" and line.strip() == "english:":
                body = "english"
                block.fields["english"] = []
            elif line.strip() in ("text:", "english:"):  # the next block's, its '===' line gone
                problems.append(
                    (
                        n,
                        f"a second '{line.strip()}' line in segment {block.segment_id}: "
                        f"put back the '=== segment' line of the block it starts",
                    )
                )
            else:
                block.fields[body].append(unescape(line))
        elif not line.strip() or line.startswith("#") or (block is None and RENAME.match(line)):
            continue
        elif block is None:
            problems.append(
                (n, "text outside a segment block; every block starts with a '=== segment' line")
            )
        elif line.strip() == "text:":
            body = "text"
            block.fields["text"] = []
        else:
            key, sep, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or key not in ("language", "speaker", "reviewed"):
                problems.append(
                    (
                        n,
                        f"expected 'language:', 'speaker:', 'reviewed:' or 'text:', found {key[:20]!r}",
                    )
                )
            elif key in block.fields:
                problems.append((n, f"segment {block.segment_id} has a second '{key}:' line"))
            elif key == "language" and value not in LANGUAGES:
                problems.append(
                    (n, f"language {value[:20]!r} is not one of {', '.join(LANGUAGES)}")
                )
            elif key == "reviewed" and value not in ("yes", "no"):
                problems.append((n, "reviewed must be 'yes' or 'no'"))
            else:
                block.fields[key] = {"reviewed": value == "yes", "speaker": value or None}.get(
                    key, value
                )
    close(len(lines) + 1)
    if not blocks and not problems:
        problems.append(
            (1, "no '=== segment' line: the file is empty or cut short; nothing was imported")
        )
    if problems:
        raise ReviewFileError(path, sorted(problems))
    return (first[1] if first else None), blocks


def renames(text: str, t: tr.Transcript, path: Path) -> dict[str, str]:
    """{old: new} speaker names from the 'speaker X -> Y' lines above the first block.

    A rename already made (the machine's label ``old`` now named ``new``) is left out: a file
    saved again from an editor that did not reload it still says it.
    """
    labels = {s.speaker for s in t.segments if s.speaker}
    given = t.speakers.get("names", {})
    found: dict[str, str] = {}
    at: dict[str, int] = {}
    problems = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith("==="):
            break
        m = RENAME.match(line.removesuffix("\r").strip())
        if not m or m[1].strip() == m[2].strip():
            continue
        old, new = m[1].strip(), m[2].strip()
        if old not in labels and given.get(old) == new:
            continue
        if old not in labels:
            problems.append(
                (
                    n,
                    f"no segment has the speaker {old!r}; speakers here: {', '.join(sorted(labels))}",
                )
            )
        elif not new:
            problems.append((n, f"write a name after '->' for {old}, or put back '{old}'"))
        elif old in found and found[old] != new:
            problems.append((n, f"{old} is given a second name here (also at line {at[old]})"))
        else:
            found[old], at[old] = new, n
    if problems:
        raise ReviewFileError(path, problems)
    return found


def edits_from(
    reviews: Reviews, interview: Interview, blocks: list[Block], path: Path
) -> list[Edit]:
    """Edits for the blocks changed since the revision they name; refuses stale or impossible ones."""
    problems: list[tuple[int, str]] = []
    current = reviews.revisions(interview.interview_id)
    edits = []
    for b in blocks:
        if b.segment_id not in current:
            problems.append(
                (b.line, f"interview {interview.interview_id} has no segment {b.segment_id}")
            )
            continue
        base = reviews.version(interview.interview_id, b.segment_id, b.revision)
        if base is None:
            problems.append(
                (
                    b.line,
                    f"segment {b.segment_id} has no revision {b.revision} "
                    f"(its latest is {current[b.segment_id]['revision']})",
                )
            )
            continue
        if (b.start, b.end) != (tr.timestamp(base["start"]), tr.timestamp(base["end"])):
            problems.append(
                (
                    b.line,
                    f"the times of segment {b.segment_id} were changed; change times by "
                    f"splitting or merging on the review page, and put back "
                    f"{tr.timestamp(base['start'])} --> {tr.timestamp(base['end'])}",
                )
            )
            continue
        b.fields.setdefault("speaker", base["speaker"])
        b.fields.setdefault("reviewed", base["reviewed"])
        changed = {k: v for k, v in b.fields.items() if v != base[k]}
        if not changed:
            continue
        latest = current[b.segment_id]["revision"]
        newest = reviews.version(interview.interview_id, b.segment_id, latest) or {}
        if all(newest.get(k) == v for k, v in changed.items()):
            continue  # saved already, e.g. by this file, from an editor that did not reload it
        if b.revision != latest:
            row = reviews.latest(interview.interview_id, b.segment_id)
            problems.append(
                (
                    b.line,
                    f"segment {b.segment_id} was changed by {row['reviewer'] or 'someone'} at "
                    f"{row['at']} (rev {latest}) after this file was written (rev {b.revision}); "
                    f"compare with the review page, then write 'rev {latest}' here to keep yours",
                )
            )
            continue
        edits.append(Edit(b.segment_id, b.revision, changed))
    if problems:
        raise ReviewFileError(path, problems)
    return edits


def import_review_file(settings: Settings, path: Path, reviewer: str | None = None) -> ImportResult:
    """Validate a review file and save its edits, all or nothing (the watcher's hook, too).

    When the file lies in its interview's outbox folder, the reasons for a refusal are also
    written beside it in review.ERRORS.txt (removed again after a good import), so that a
    reviewer working only in a text editor sees them.
    """
    path = Path(path).resolve()
    reviewer = reviewer or f"{getpass.getuser()} (review.txt)"
    reviews = Reviews(settings)
    try:
        interview = None
        try:
            data = path.read_bytes()
            try:
                text = data.decode("utf-8-sig")  # Notepad starts its UTF-8 with a BOM
            except UnicodeDecodeError as exc:
                raise ReviewFileError(
                    path, [(text_line(data, exc.start), "not UTF-8 text; save it as UTF-8")]
                )
            interview_id, blocks = parse(text, path)
            _check_folder(settings, path, interview_id)
            interview = reviews.find(interview_id or path.parent.name)
            reviews.open(interview)
            edits = edits_from(reviews, interview, blocks, path)
            names = renames(text, reviews.open(interview), path)
            if edits or names:  # one transaction: all of the file is saved, or none of it
                reviews.apply_edits(interview, reviewer, edits, action="review.txt", renames=names)
        except ReviewFileError as exc:
            _note_errors(path, interview, str(exc))
            log.warning("review file %s refused at line(s) %s", path, [n for n, _ in exc.problems])
            raise
        except ReviewError as exc:  # unknown interview, or a save on the page meanwhile
            _note_errors(
                path,
                interview,
                f"{path} was not imported, nothing was changed: {exc}.\n{_what_to_do(exc)}",
            )
            log.warning("review file %s refused: %s", path, type(exc).__name__)
            raise
        _note_errors(path, interview, None)
        mine = path == interview.out_dir / REVIEW_FILE
        if edits or names:  # new revisions: the file is brought up to them, unless saved meanwhile
            written = write_review_file(reviews, interview, force=mine, unless_changed_from=data)
            if written and mine:  # the reviewer's file was replaced: their notes are kept
                keep_notes(text, path)
        elif mine:  # left as it is, but holding nothing unimported: later saves may refresh it
            record_written(reviews.db, interview, hashlib.sha256(data).hexdigest())
        log.info("review file %s imported: %d segment(s) changed", path, len(edits))
        return ImportResult(
            interview.interview_id, [e.segment_id for e in edits], len(blocks) - len(edits)
        )
    finally:
        reviews.close()


def _what_to_do(exc: ReviewError) -> str:
    if isinstance(exc, NotFound):
        return (
            "Check the interview ID on the file's first line, or write a new file with "
            "`testimony review file INTERVIEW` and copy your edits into it."
        )
    return (
        "Your file is kept as it is: save it again to import it again (a segment changed "
        "meanwhile is then named, with what to do)."
    )


def _check_folder(settings: Settings, path: Path, interview_id: str | None) -> None:
    """A file saved into another interview's outbox folder is refused there, not imported
    into the interview its first line names (the reviewer meant this folder's, or erred)."""
    folder = path.parent
    if interview_id is None or folder.name == interview_id:
        return
    if folder.parent.parent.resolve() != settings.outbox.resolve():
        return  # imported from elsewhere by hand: the first line says which interview
    raise ReviewFileError(
        path,
        [
            (
                1,
                f"this file is for interview {interview_id}, but it lies in the folder of "
                f"interview {folder.name}; move it to that interview's folder, or write this "
                f"interview's review file with `testimony review file {folder.name}`",
            )
        ],
    )


def keep_notes(text: str, written: Path) -> None:
    """Append the reviewer's own '#' lines, which the import ignores and the rewritten file no
    longer has, to review.notes.txt beside it, each under the segment it stood in."""
    ours = set(_read_text(written).split("\n"))
    notes, segment, in_body = [], None, False
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line.startswith("==="):
            segment, in_body = line, False
        elif line.strip() == "text:":
            in_body = True
        elif not in_body and line.startswith("#") and line not in ours:
            notes.append(f"{segment or '(above the first segment)'}\n  {line}")
    if notes:
        with open(written.parent / NOTES_FILE, "a", encoding="utf-8") as fh:
            fh.write("\n".join(notes) + "\n")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def text_line(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def _note_errors(path: Path, interview: Interview | None, message: str | None) -> None:
    folder = interview.out_dir if interview else path.parent
    if path.parent != folder:
        return
    if message is None:
        (folder / ERRORS_FILE).unlink(missing_ok=True)
    else:
        tr.write_atomic(folder / ERRORS_FILE, message + "\n")
