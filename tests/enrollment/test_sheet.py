"""The printable enrollment sheet: the steps and one QR code, or a named QR code per slot; with
or without a TrueType font."""

import io
from pathlib import Path

from pypdf import PdfReader

from enrollment.sheet import SheetText, Slot, token_sheet

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
TEXT = SheetText(
    title="Gerät bei Gymnasium Süd einschreiben",
    summary=["Für Schülerinnen und Schüler."],
    how_heading="So schreiben Sie das Gerät ein",
    how=[],
    steps=["Agent-Software öffnen.", "QR-Code scannen."],
    closing=[],
    valid_until="Gilt bis 17.12.2026.",
    secret_note="Sicher aufbewahren.",
    code_label="Einschreibecode:",
    slots_heading="QR-Codes",
)


def _text(pdf: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_a_single_token_has_its_steps_link_and_code() -> None:
    slot = Slot("iPads 7a", "https://mdm.example/enroll/et_x")
    text, pages = _text(token_sheet(TEXT, [slot], ["et_x"], FONT, BOLD))
    assert pages == 1
    assert "Gymnasium Süd" in text and "1. Agent-Software öffnen." in text
    assert "https://mdm.example/enroll/et_x" in text and "Einschreibecode: et_x" in text


def test_a_trolley_prints_twelve_named_codes_a_page() -> None:
    slots = [Slot(f"Koffer 3 – iPad {n}", f"https://mdm.example/enroll/{n}") for n in range(1, 17)]
    text, pages = _text(token_sheet(TEXT, slots, [str(n) for n in range(16)], FONT, BOLD))
    assert pages == 3  # the instructions, 12 slots, 4 slots
    names = text.replace("\n", " ").split("Koffer 3 – iPad ")[1:]
    assert [name.split()[0] for name in names] == [str(n) for n in range(1, 17)]


def test_without_a_font_letters_beyond_latin_1_print_as_question_marks() -> None:
    slots = [Slot("Koffer 3 – iPad 1", "https://x/1"), Slot("Koffer 3 – iPad 2", "https://x/2")]
    text, _ = _text(token_sheet(TEXT, slots, ["1", "2"], None, None))
    assert "Koffer 3 ? iPad 1" in text and "Gymnasium Süd" in text
