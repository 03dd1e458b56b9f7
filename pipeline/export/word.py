"""The English transcript as a Word document (python-docx), editable by a newsroom."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from docx import Document
from docx.shared import Pt, RGBColor

from ..transcript import Transcript
from .documents import LANGUAGE_NAMES, banner, header_fields, stamp
from .packet import rezip

RED = RGBColor(0xB0, 0x00, 0x00)


def render(t: Transcript, ref: str, bilingual: bool, unreviewed: bool, when: datetime) -> bytes:
    """DOCX bytes for the redacted transcript ``t``, dated ``when`` (the review's time, so that
    exporting the same review twice gives the same bytes)."""
    doc = Document()
    props = doc.core_properties  # no author or template leftovers: only what the header says
    props.author = props.last_modified_by = "testimony"
    props.title = f"Testimony {ref}: English transcript"
    props.comments = props.keywords = props.subject = ""
    props.created = props.modified = when.astimezone(timezone.utc).replace(tzinfo=None)
    props.revision = 1

    section = doc.sections[0]
    mark = banner(unreviewed)
    if mark:  # in the page header, so it is on every page, printed or not
        run = section.header.paragraphs[0].add_run(mark)
        run.bold, run.font.color.rgb = True, RED
    section.footer.paragraphs[0].add_run(f"Testimony {ref}").font.size = Pt(8)

    doc.add_heading(f"Testimony {ref}: English transcript", level=1)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in header_fields(t, ref):
        cells = table.add_row().cells
        cells[0].paragraphs[0].add_run(label).bold = True
        cells[1].text = value

    doc.add_heading("Transcript", level=2)
    if bilingual:
        grid = doc.add_table(rows=1, cols=2)
        grid.style = "Table Grid"
        grid.rows[0].cells[0].paragraphs[0].add_run("Original").bold = True
        grid.rows[0].cells[1].paragraphs[0].add_run("English").bold = True
        for seg in t.segments:
            who = f" {seg.speaker}:" if seg.speaker else ""
            left, right = grid.add_row().cells
            left.paragraphs[0].add_run(
                f"{stamp(seg)} {LANGUAGE_NAMES.get(seg.language, seg.language)}{who}"
            ).bold = True
            left.add_paragraph(seg.text)
            right.paragraphs[0].add_run(f"{stamp(seg)}{who}").bold = True
            right.add_paragraph(seg.english or "")
    else:
        for seg in t.segments:
            para = doc.add_paragraph()
            para.add_run(f"[{stamp(seg)}] ").bold = True
            if seg.speaker:
                para.add_run(f"{seg.speaker}: ").bold = True
            para.add_run(seg.english or "")
    buffer = io.BytesIO()
    doc.save(buffer)
    return rezip(buffer.getvalue(), when)  # python-docx dates each zip entry with the clock
