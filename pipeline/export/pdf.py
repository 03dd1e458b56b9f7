"""The English transcript as a PDF (fpdf2, pure Python) with an embedded DejaVu Sans subset."""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..transcript import Transcript
from .documents import FONT_FAMILY, LANGUAGE_NAMES, banner, font_files, header_fields, stamp

NEXT_LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


class _Pages(FPDF):
    """Pages that carry the unreviewed banner at the top and the reference at the foot."""

    def __init__(self, ref: str, mark: str | None):
        super().__init__(format="A4")
        self.ref, self.mark = ref, mark
        regular, bold = font_files()
        self.add_font(FONT_FAMILY, "", str(regular))
        self.add_font(FONT_FAMILY, "B", str(bold))
        self.set_auto_page_break(True, margin=18)
        self.set_title(f"Testimony {ref}: English transcript")
        self.set_author("testimony")
        self.set_creator("testimony")

    def header(self):
        if self.mark:
            self.set_font(FONT_FAMILY, "B", 10)
            self.set_text_color(176, 0, 0)
            self.cell(0, 7, self.mark, align="C", **NEXT_LINE)
            self.set_text_color(0, 0, 0)
            self.ln(2)

    def footer(self):
        self.set_y(-13)
        self.set_font(FONT_FAMILY, "", 8)
        self.cell(0, 5, f"Testimony {self.ref} · page {self.page_no()} of {{nb}}", align="C")


def render(t: Transcript, ref: str, bilingual: bool, unreviewed: bool, when: datetime) -> bytes:
    """PDF bytes for the redacted transcript ``t``, dated ``when`` (its /ID is a hash of the content
    and that date, so the same review gives the same bytes)."""
    pdf = _Pages(ref, banner(unreviewed))
    pdf.set_creation_date(when)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 15)
    pdf.multi_cell(0, 8, f"Testimony {ref}: English transcript", **NEXT_LINE)
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "", 9)
    with pdf.table(
        col_widths=(30, 70),
        text_align="LEFT",
        v_align="TOP",
        line_height=4.5,
        first_row_as_headings=False,
    ) as table:
        for label, value in header_fields(t, ref):
            table.row([label, value])
    pdf.ln(4)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.cell(0, 8, "Transcript", **NEXT_LINE)
    pdf.set_font(FONT_FAMILY, "", 10)
    if bilingual:
        with pdf.table(
            col_widths=(50, 50), text_align="LEFT", v_align="TOP", line_height=5
        ) as table:
            table.row(["Original", "English"])
            for seg in t.segments:
                language = LANGUAGE_NAMES.get(seg.language, seg.language)
                who = f" {seg.speaker}:" if seg.speaker else ""
                table.row(
                    [
                        f"{stamp(seg)} {language}{who}\n{seg.text}",
                        f"{stamp(seg)}{who}\n{seg.english or ''}",
                    ]
                )
    else:
        for seg in t.segments:
            pdf.set_font(FONT_FAMILY, "B", 9)
            pdf.cell(
                0, 5, f"{stamp(seg)}  {seg.speaker}:" if seg.speaker else stamp(seg), **NEXT_LINE
            )
            pdf.set_font(FONT_FAMILY, "", 10)
            pdf.multi_cell(0, 5, seg.english or "", **NEXT_LINE)
            pdf.ln(2)
    return bytes(pdf.output())
