"""Printable slips of initial passwords (PDF, one slip per person, to cut apart). Pure: no Flask,
no session. fpdf2 makes the PDF: pure Python, small, maintained, with Unicode TrueType fonts."""

from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

SLIPS_PER_PAGE = 5
SLIP_HEIGHT = 54.0  # mm; five fit an A4 page between its margins
MARGIN = 12.0
TEXTS = {
    "de": {
        "title": "Zugang zum Schulkonto",
        "name": "Name",
        "class": "Klasse",
        "username": "Benutzername",
        "password": "Erstes Passwort",
        "where": "Anmelden unter",
        "hint": "Bitte nach der ersten Anmeldung unter „Mein Konto“ ein eigenes Passwort wählen.",
    },
    "en": {
        "title": "Your school account",
        "name": "Name",
        "class": "Class",
        "username": "Username",
        "password": "Initial password",
        "where": "Log in at",
        "hint": "Please choose your own password under “My account” after the first login.",
    },
}


@dataclass(frozen=True)
class Slip:
    """One person's slip: who, their class, and the login they were given."""

    name: str
    class_name: str
    username: str
    password: str


def password_slips_pdf(
    school: str, login_url: str, slips: list[Slip], font: Path | None, lang: str = "de"
) -> bytes:
    """A PDF of the slips, five to an A4 page, sorted by class and name. `font` is a TrueType
    font with the names' letters (DejaVu Sans); without one, the PDF's Latin-1 font is used and
    letters beyond it print as '?'."""
    texts = TEXTS[lang]
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_title(f"{texts['title']} – {school}")
    family = "Helvetica"
    if font is not None and font.is_file():
        pdf.add_font("Slip", "", str(font))
        family = "Slip"

    def text(value: str) -> str:
        return value if family == "Slip" else value.encode("latin-1", "replace").decode("latin-1")

    ordered = sorted(slips, key=lambda slip: (slip.class_name, slip.name, slip.username))
    for index, slip in enumerate(ordered):
        if index % SLIPS_PER_PAGE == 0:
            pdf.add_page()
        top = MARGIN + (index % SLIPS_PER_PAGE) * SLIP_HEIGHT
        pdf.set_draw_color(120, 120, 120)
        pdf.set_dash_pattern(dash=2, gap=2)
        pdf.rect(MARGIN, top + 2, 210 - 2 * MARGIN, SLIP_HEIGHT - 4)
        pdf.set_dash_pattern()
        pdf.set_xy(MARGIN + 4, top + 5)
        pdf.set_font(family, size=13)
        pdf.cell(0, 7, text(f"{texts['title']} – {school}"))
        rows = (
            (texts["name"], slip.name),
            (texts["class"], slip.class_name),
            (texts["username"], slip.username),
            (texts["password"], slip.password),
            (texts["where"], login_url),
        )
        for row, (label, value) in enumerate(rows):
            pdf.set_xy(MARGIN + 4, top + 14 + row * 6)
            pdf.set_font(family, size=10)
            pdf.cell(38, 6, text(label))
            # The password in a large, unambiguous-looking size: it is typed from paper.
            pdf.set_font(family, size=13 if label == texts["password"] else 11)
            pdf.cell(0, 6, text(value))
        pdf.set_xy(MARGIN + 4, top + 45)
        pdf.set_font(family, size=8)
        pdf.cell(0, 4, text(texts["hint"]))
    return bytes(pdf.output())
