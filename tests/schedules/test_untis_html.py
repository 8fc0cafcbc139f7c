"""Untis HTML substitution pages: columns by header, struck values, day news, real samples."""

from datetime import date, datetime
from pathlib import Path

import pytest

from schedules import untis_html
from schedules.import_data import (
    ABSENT_CLASS,
    ABSENT_TEACHER,
    BREAK_SUPERVISION,
    CANCELLATION,
    EXAM,
    MOVED,
    RELEASED,
    ROOM_CHANGE,
    SPECIAL_DUTY,
    SUBSTITUTION,
    SUPERVISION,
    SWAP,
    Absence,
    DayMessage,
    ImportFormatError,
)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "untis"
DAY = date(2024, 9, 2)


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {name} not available")
    return path.read_bytes()


def page(
    rows: str,
    headers: tuple[str, ...] = (
        "Klasse(n)",
        "Stunde",
        "(Lehrer)",
        "Vertreter",
        "Fach",
        "Raum",
        "Art",
    ),
    info: str = "",
    charset: str = "iso-8859-1",
    title: str = "2.9.2024 Montag, Woche A",
) -> str:
    head = "".join(f'<th class="list">{header}</th>' for header in headers)
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        "</head><body><p>Schule Stand: 01.09.2024 17:05</p>"
        f'<center><div class="mon_title">{title}</div>'
        f'<table class="info"><tr class="info"><th class="info" colspan="2">Nachrichten zum Tag'
        f"</th></tr>{info}</table>"
        f'<table class="mon_list"><tr class="list">{head}</tr>{rows}</table></center></body></html>'
    )


def row(*cells: str) -> str:
    return (
        "<tr class='list'>" + "".join(f'<td class="list">{cell}</td>' for cell in cells) + "</tr>"
    )


@pytest.mark.parametrize(
    ("art", "kind"),
    [
        ("Vertretung", SUBSTITUTION),
        ("Statt-Vertretung", SUBSTITUTION),
        ("Entfall", CANCELLATION),
        ("Raum-Vtr.", ROOM_CHANGE),
        ("Raumänderung", ROOM_CHANGE),
        ("Tausch", SWAP),
        ("Verlegung", MOVED),
        ("Betreuung", SUPERVISION),
        ("Pausenaufsicht", BREAK_SUPERVISION),
        ("Klausur", EXAM),
        ("Sondereins.", SPECIAL_DUTY),
        ("Freisetzung", RELEASED),
    ],
)
def test_art_text_decides_the_kind(art: str, kind: str) -> None:
    html = page(row("5a", "3", "Mül", "Sch", "M", "A101", art)).encode("cp1252")
    batch = untis_html.parse_untis_html(html)
    assert batch.warnings == []
    assert [sub.kind for sub in batch.substitutions] == [kind]


def test_unknown_art_is_a_substitution_with_a_warning() -> None:
    html = page(row("5a", "3", "Mül", "Sch", "M", "A101", "Zauberei")).encode()
    batch = untis_html.parse_untis_html(html, "subst_002.htm")
    assert batch.substitutions[0].kind == SUBSTITUTION
    assert len(batch.warnings) == 1
    assert batch.warnings[0].file == "subst_002.htm"
    assert "Zauberei" in batch.warnings[0].message


def test_row_values_originals_and_page_facts() -> None:
    html = page(row("5a, 5b", "1 - 2", "Mül", "Sch", "M", "A101", "Vertretung")).encode("cp1252")
    batch = untis_html.parse_untis_html(html)
    assert batch.source == "untis-html"
    assert batch.covered_dates == {DAY}
    assert batch.generated_at == datetime(2024, 9, 1, 17, 5)
    sub = batch.substitutions[0]
    assert (sub.date, sub.period, sub.period_to) == (DAY, 1, 2)
    assert (sub.original_teachers, sub.new_teachers) == (("Mül",), ("Sch",))
    # Columns without a "(X)" twin or struck part: what the row shows was also planned.
    assert (sub.original_classes, sub.new_classes) == (("5a", "5b"), ("5a", "5b"))
    assert (sub.original_subject, sub.new_subject) == ("M", "M")
    assert (sub.original_rooms, sub.new_rooms) == (("A101",), ("A101",))


def test_struck_content_is_the_original_value() -> None:
    headers = ("Klasse(n)", "Stunde", "Vertreter", "Fach", "Raum", "Art")
    cells = ("6a", "4", "<s>Mül</s> Sch", "<strike>E</strike>M", "<s>A101</s>B202", "Vertretung")
    batch = untis_html.parse_untis_html(page(row(*cells), headers=headers).encode())
    sub = batch.substitutions[0]
    assert (sub.original_teachers, sub.new_teachers) == (("Mül",), ("Sch",))
    assert (sub.original_subject, sub.new_subject) == ("E", "M")
    assert (sub.original_rooms, sub.new_rooms) == (("A101",), ("B202",))


def test_cancellation_from_the_entfall_column_empties_new_values() -> None:
    headers = ("Klasse(n)", "Stunde", "(Lehrer)", "Vertreter", "(Fach)", "Fach", "Entfall")
    cells = ("(7a)", "5", "Mül", "---", "D", "---", "x")
    sub = untis_html.parse_untis_html(page(row(*cells), headers=headers).encode()).substitutions[0]
    assert sub.kind == CANCELLATION
    assert (sub.original_classes, sub.original_teachers, sub.original_subject) == (
        ("7a",),
        ("Mül",),
        "D",
    )
    assert (sub.new_classes, sub.new_teachers, sub.new_subject, sub.new_rooms) == ((), (), "", ())


def test_break_supervision_period_and_yearless_row_date() -> None:
    headers = ("Datum", "Stunde", "Vertreter", "Raum", "Art")
    html = page(row("3.9.", "2/3", "Sch", "Hof", "Pausenaufsicht"), headers=headers).encode()
    sub = untis_html.parse_untis_html(html).substitutions[0]
    assert (sub.date, sub.period, sub.period_to) == (date(2024, 9, 3), 3, 3)
    assert sub.kind == BREAK_SUPERVISION


def test_row_date_across_the_new_year() -> None:
    headers = ("Datum", "Stunde", "Vertreter", "Art")
    html = page(row("2.1.", "1", "Sch", "Vertretung"), headers=headers, title="30.12.2024 Montag")
    assert untis_html.parse_untis_html(html.encode()).substitutions[0].date == date(2025, 1, 2)


def test_unreadable_period_and_wrong_cell_count_are_skipped_with_warnings() -> None:
    rows = row("5a", "früh", "Mül", "Sch", "M", "A101", "Vertretung") + row("5a", "3")
    batch = untis_html.parse_untis_html(page(rows).encode())
    assert batch.substitutions == []
    assert len(batch.warnings) == 2


def test_grouped_rows_take_the_class_from_the_group_header() -> None:
    headers = ("Stunde", "Vertreter", "Art")
    rows = (
        '<tr class="list"><td class="list inline_header" colspan="3">7b</td></tr>'
        + row("2", "Sch", "Vertretung")
        + '<tr class="list"><td class="list" colspan="3">Wandertag der 7b</td></tr>'
    )
    batch = untis_html.parse_untis_html(page(rows, headers=headers).encode())
    assert batch.substitutions[0].new_classes == ("7b",)
    assert batch.day_messages == [DayMessage(DAY, "Wandertag der 7b", audience="7b")]


def test_day_news_messages_and_absences() -> None:
    info = (
        "<tr class='info'><td class='info'>Abwesende Lehrer</td>"
        "<td class='info'>Müller (1-2, 5), Schmidt</td></tr>"
        "<tr class='info'><td class='info'>Abwesende Klassen</td>"
        "<td class='info'>7a (3-4)</td></tr>"
        "<tr class='info'><td class='info'>Betroffene Klassen</td><td class='info'>5a, 7a</td></tr>"
        "<tr class='info'><td class='info' colspan='2'><b>Schulfest</b> ab 12 Uhr<br>Alle</td></tr>"
    )
    batch = untis_html.parse_untis_html(page("", info=info).encode("cp1252"))
    assert batch.absences == [
        Absence(ABSENT_TEACHER, "Müller", DAY, DAY, 1, 2),
        Absence(ABSENT_TEACHER, "Müller", DAY, DAY, 5, 5),
        Absence(ABSENT_TEACHER, "Schmidt", DAY, DAY),
        Absence(ABSENT_CLASS, "7a", DAY, DAY, 3, 4),
    ]
    assert batch.day_messages == [DayMessage(DAY, "Schulfest ab 12 Uhr\nAlle")]


def test_encoding_follows_meta_charset_unless_the_page_is_utf8() -> None:
    rows = row("5a", "3", "Mül", "Weiß", "M", "A101", "Vertretung")
    latin = untis_html.parse_untis_html(page(rows).encode("latin-1"))
    utf8_with_latin_meta = untis_html.parse_untis_html(page(rows).encode("utf-8"))
    windows = untis_html.parse_untis_html(page(rows, charset="windows-1252").encode("cp1252"))
    for batch in (latin, utf8_with_latin_meta, windows):
        assert batch.substitutions[0].new_teachers == ("Weiß",)


def test_not_an_untis_page_is_a_format_error() -> None:
    with pytest.raises(ImportFormatError, match="no day title"):
        untis_html.parse_untis_html(b"<html><body><p>Hallo</p></body></html>", "x.htm")
    with pytest.raises(ImportFormatError):
        untis_html.parse_untis_html(bytes(range(256)) * 8, "garbage.htm")


def test_pages_of_one_export_share_news_once() -> None:
    info = "<tr class='info'><td class='info' colspan='2'>Schulfest</td></tr>"
    first = page(row("5a", "3", "Mül", "Sch", "M", "A101", "Vertretung"), info=info)
    second = page(row("5b", "4", "Mül", "Sch", "M", "A102", "Entfall"), info=info)
    batch = untis_html.parse_untis_html_pages(
        {"subst_002.htm": second.encode(), "subst_001.htm": first.encode()}
    )
    assert batch.day_messages == [DayMessage(DAY, "Schulfest")]
    assert [(sub.period, sub.kind) for sub in batch.substitutions] == [
        (3, SUBSTITUTION),
        (4, CANCELLATION),
    ]
    assert batch.covered_dates == {DAY}


def test_sample_info_stundenplan_2019() -> None:
    batch = untis_html.parse_untis_html(sample("subst-2019-schulit.htm"), "subst-2019.htm")
    day = date(2019, 6, 10)
    assert batch.warnings == []
    assert batch.covered_dates == {day}
    assert [message.text for message in batch.day_messages] == [
        "Unterrichtsfrei: 1,3-5 Std.",
        "Infotext 1",
        "Infotext 2",
        "Infotext mit HTML",
    ]
    subs = batch.substitutions
    assert [sub.external_id for sub in subs] == ["1", "2", "3", "4", "5", "6", "7", "0", "7"]
    by_id = {sub.external_id: sub for sub in subs}

    supervision = by_id["1"]
    assert (supervision.kind, supervision.period, supervision.new_rooms) == (
        BREAK_SUPERVISION,
        1,
        ("Hof",),
    )
    room = by_id["2"]
    assert (room.kind, room.period, room.period_to) == (ROOM_CHANGE, 1, 2)
    assert (room.original_teachers, room.new_teachers) == (("XXXX",), ("YYYY",))
    assert (room.original_rooms, room.new_rooms) == (("R001",), ("R002",))
    assert (room.new_subject, room.new_classes, room.text) == ("GE-GK1", ("EF",), "Lorem ipsum")
    special = by_id["3"]
    assert (special.kind, special.text, special.new_subject) == (
        SPECIAL_DUTY,
        "mündl. Prüf. E/Q1",
        "E5",
    )
    cancelled = by_id["6"]
    assert (cancelled.kind, cancelled.period, cancelled.period_to) == (CANCELLATION, 8, 9)
    assert set(cancelled.original_classes) == {"08A", "08B", "08C"}
    assert (cancelled.original_subject, cancelled.new_classes) == ("LEZL", ())
    exam = by_id["0"]
    assert (exam.kind, exam.date, exam.new_subject, exam.new_rooms) == (
        EXAM,
        date(2019, 6, 13),
        "M-GK1",
        ("R007",),
    )
    assert subs[6].original_teachers == ("XXXX", "YYYY", "ZZZZ")
    assert (subs[8].kind, subs[8].original_subject, subs[8].period) == (CANCELLATION, "PH-GK1", 3)


def test_sample_monitor_page_2018() -> None:
    batch = untis_html.parse_untis_html(sample("subst_001-monitor-2018.htm"), "subst_001.htm")
    day = date(2018, 1, 1)
    assert batch.covered_dates == {day}
    assert batch.generated_at == datetime(2018, 1, 1, 8, 42)
    assert batch.absences == [
        Absence(ABSENT_TEACHER, "Neudecker", day, day),
        Absence(ABSENT_TEACHER, "Winter", day, day, 3, 4),
    ]
    assert batch.day_messages == [
        DayMessage(day, "Juniorwahl"),
        DayMessage(day, "Das ist ein Tagextext an alle Lehrer."),
        DayMessage(day, "Das ist ein Tagestext nur für Lehrer Pakaski", audience="Pakaski"),
    ]
    # Grouped by teacher, so each substitution shows under both teachers: 15 rows, 9 distinct.
    subs = batch.substitutions
    assert len(subs) == 9
    moved = subs[1]
    assert (moved.kind, moved.new_classes, moved.original_teachers, moved.new_teachers) == (
        MOVED,
        ("9G",),
        ("Deuerlein",),
        ("Rieß",),
    )
    assert moved.text == "-> 02.01. / 3"
    six_a = [(sub.period, sub.period_to) for sub in subs if sub.new_classes == ("6a",)]
    assert six_a == [(1, 1), (2, 2), (3, 4), (5, 6)]
    assert all(sub.new_teachers == ("Müller I.",) for sub in subs if sub.new_classes == ("6a",))
    assert [w.message for w in batch.warnings] == ["unknown Art 'Tandem'; read as a substitution"]


def test_an_impossible_day_title_is_a_format_error() -> None:
    html = page(row("5a", "3", "Mül", "Sch", "M", "A101", "Vertretung"), title="32.13.2024 Montag")
    with pytest.raises(ImportFormatError, match="'32.13.2024' is not a valid date") as raised:
        untis_html.parse_untis_html(html.encode(), "subst_002.htm")
    assert raised.value.file == "subst_002.htm"


def test_an_impossible_stand_is_ignored_with_a_warning() -> None:
    html = page(row("5a", "3", "Mül", "Sch", "M", "A101", "Vertretung"))
    batch = untis_html.parse_untis_html(
        html.replace("01.09.2024 17:05", "45.13.2024 07:12").encode()
    )
    assert batch.generated_at is None
    assert len(batch.substitutions) == 1
    assert [w.message for w in batch.warnings] == [
        "Stand '45.13.2024 07:12' is not a valid date and time; ignored"
    ]


@pytest.mark.parametrize("row_date", ["31.2.2024", "30.2."])
def test_a_row_with_an_impossible_date_is_skipped_with_a_warning(row_date: str) -> None:
    headers = ("Datum", "Stunde", "Vertreter", "Art")
    rows = row(row_date, "1", "Sch", "Vertretung") + row("3.9.", "2", "Sch", "Vertretung")
    batch = untis_html.parse_untis_html(page(rows, headers=headers).encode())
    assert [sub.date for sub in batch.substitutions] == [date(2024, 9, 3)]
    assert [w.message for w in batch.warnings] == [
        f"date {row_date!r} is not a valid date; row skipped"
    ]


@pytest.mark.parametrize("period", ["99999999999999999999", "31", "1 - 99999999999999999999"])
def test_absurd_periods_are_skipped_with_a_warning(period: str) -> None:
    batch = untis_html.parse_untis_html(
        page(row("5a", period, "Mül", "Sch", "M", "A101", "Vertretung")).encode()
    )
    assert batch.substitutions == []
    assert [w.message for w in batch.warnings] == [f"period {period!r} not readable"]
