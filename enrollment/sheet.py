"""The printable enrollment sheet (PDF): what the token is for, the steps of the enrollment
page, and its QR code; for a trolley one QR code per slot, each naming the device it enrolls.
Pure: no Flask, no session. fpdf2 writes the PDF; segno's module matrix is drawn as vector
squares, so the code prints sharp at any size."""

from dataclasses import dataclass, field
from pathlib import Path

import segno
from fpdf import FPDF

from enrollment.qr import BORDER, ERROR_CORRECTION

PAGE_MARGIN = 15  # millimetres
SINGLE_QR_SIZE = 70
SLOT_QR_SIZE = 46
SLOT_COLUMNS = 3
SLOT_ROWS = 4


@dataclass(frozen=True)
class Slot:
    """One QR code of the sheet: the device it enrolls (or the token's label) and its URL."""

    heading: str
    url: str


@dataclass(frozen=True)
class SheetText:
    """The words of a sheet, in the page's language."""

    title: str
    summary: list[str]
    how_heading: str
    how: list[str]
    steps: list[str]
    closing: list[str]
    valid_until: str
    secret_note: str
    code_label: str
    slots_heading: str = ""
    notes: list[str] = field(default_factory=list)


class _Sheet(FPDF):
    """fpdf2's document with the sheet's font: the configured TrueType fonts, or without them
    the PDF's own Helvetica, in which letters beyond Latin-1 print as "?"."""

    def __init__(self, regular: Path | None, bold: Path | None) -> None:
        super().__init__(format="A4")
        self.unicode = bool(regular and bold and regular.is_file() and bold.is_file())
        if self.unicode:
            self.add_font("Sheet", "", str(regular))
            self.add_font("Sheet", "B", str(bold))

    def use(self, style: str, size: float) -> None:
        """Set the sheet's font in this style and size."""
        self.set_font("Sheet" if self.unicode else "Helvetica", style, size)

    def normalize_text(self, text: str) -> str:
        """Text the font can show."""
        if not self.unicode:
            text = text.encode("latin-1", "replace").decode("latin-1")
        return super().normalize_text(text)


def _qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """Draw the QR code of `url` with its quiet zone, `size` millimetres wide, at (x, y)."""
    code = segno.make(url, error=ERROR_CORRECTION, micro=False, boost_error=False)
    rows = list(code.matrix_iter(border=BORDER))
    module = size / len(rows)
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            # One rectangle per run of dark modules: fewer shapes, no hairline gaps.
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")


def _paragraphs(pdf: _Sheet, texts: list[str], size: float = 10) -> None:
    pdf.use("", size)
    for text in texts:
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)


def _instructions(pdf: _Sheet, text: SheetText) -> None:
    pdf.use("B", 16)
    pdf.multi_cell(0, 8, text.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _paragraphs(pdf, text.summary)
    pdf.use("B", 12)
    pdf.multi_cell(0, 6, text.how_heading, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    _paragraphs(pdf, text.how)
    pdf.use("", 10)
    for number, step in enumerate(text.steps, 1):
        pdf.multi_cell(0, 5, f"{number}. {step}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    _paragraphs(pdf, text.closing)
    _paragraphs(pdf, [text.valid_until, *text.notes], 9)


def token_sheet(
    text: SheetText,
    slots: list[Slot],
    secrets: list[str],
    font: Path | None,
    bold_font: Path | None,
) -> bytes:
    """The sheet as PDF: one large QR code for a single token, or a grid of slot cards (one per
    token of a trolley) after the instructions."""
    pdf = _Sheet(font, bold_font)
    pdf.set_title(text.title)
    pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN)
    pdf.set_auto_page_break(True, PAGE_MARGIN)
    pdf.add_page()
    _instructions(pdf, text)
    if len(slots) == 1:
        _single(pdf, text, slots[0], secrets[0])
    else:
        _grid(pdf, text, slots)
    return bytes(pdf.output())


def _single(pdf: _Sheet, text: SheetText, slot: Slot, secret: str) -> None:
    if pdf.get_y() + SINGLE_QR_SIZE + 30 > pdf.h - PAGE_MARGIN:
        pdf.add_page()
    pdf.ln(3)
    pdf.use("B", 12)
    pdf.multi_cell(0, 6, slot.heading, new_x="LMARGIN", new_y="NEXT")
    x = (pdf.w - SINGLE_QR_SIZE) / 2
    _qr(pdf, slot.url, x, pdf.get_y() + 2, SINGLE_QR_SIZE)
    pdf.set_y(pdf.get_y() + SINGLE_QR_SIZE + 4)
    pdf.use("", 9)
    pdf.multi_cell(0, 4.5, slot.url, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 4.5, f"{text.code_label} {secret}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _paragraphs(pdf, [text.secret_note], 9)


def _grid(pdf: _Sheet, text: SheetText, slots: list[Slot]) -> None:
    pdf.add_page()
    pdf.use("B", 12)
    pdf.multi_cell(0, 6, text.slots_heading, new_x="LMARGIN", new_y="NEXT")
    top = pdf.get_y() + 2
    width = (pdf.w - 2 * PAGE_MARGIN) / SLOT_COLUMNS
    height = (pdf.h - top - PAGE_MARGIN) / SLOT_ROWS
    per_page = SLOT_COLUMNS * SLOT_ROWS
    for index, slot in enumerate(slots):
        if index and index % per_page == 0:
            pdf.add_page()
            top = PAGE_MARGIN
            height = (pdf.h - top - PAGE_MARGIN) / SLOT_ROWS
        place = index % per_page
        x = PAGE_MARGIN + (place % SLOT_COLUMNS) * width
        y = top + (place // SLOT_COLUMNS) * height
        pdf.set_draw_color(150, 150, 150)
        pdf.set_line_width(0.2)
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.rect(x + 1, y + 1, width - 2, height - 2)  # a line to cut along
        pdf.set_dash_pattern()
        pdf.set_xy(x + 2, y + 3)
        pdf.use("B", 10)
        pdf.multi_cell(width - 4, 5, slot.heading, align="C")
        _qr(pdf, slot.url, x + (width - SLOT_QR_SIZE) / 2, y + 10, SLOT_QR_SIZE)
    pdf.set_draw_color(0, 0, 0)
