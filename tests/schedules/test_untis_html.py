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
from tests.schedules.import_fixtures import (
    MONDAY,
    TUESDAY,
    encoded,
    frameset,
    monday,
    monitor_page,
    substitution_row,
    tuesday,
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


# Pages as Untis' monitor export writes them (see the samples): a head with the charset and the
# refresh to the next page, the school's head table, then per day a title, its news and its list.
COMPLETE = monitor_page(
    (monday(), substitution_row("5a", "1")), (tuesday(), substitution_row("5b", "2"))
)


@pytest.mark.parametrize(
    ("cut", "where"),
    [
        pytest.param(COMPLETE.index("<td", COMPLETE.index("5b")), "never closed", id="in a row"),
        pytest.param(COMPLETE.index("5b") - 15, "never closed", id="in a tag"),
        pytest.param(COMPLETE.rindex("</tr>") + 3, "never closed", id="in the last row's end"),
        pytest.param(COMPLETE.index("Nachrichten"), "never closed", id="in the news"),
        pytest.param(COMPLETE.index("Dienstag"), "in a day title", id="in a day title"),
        pytest.param(
            COMPLETE.index("<center>", COMPLETE.index("5a")),
            "does not end with </html>",
            id="after the first of two days",
        ),
        pytest.param(
            COMPLETE.rindex("</table>") + len("</table>"),
            "does not end with </html>",
            id="after the last list",
        ),
        pytest.param(COMPLETE.rindex("</body>"), "does not end with </html>", id="before </body>"),
    ],
)
def test_a_cut_off_page_is_refused(cut: int, where: str) -> None:
    pages = {"subst_001.htm": COMPLETE[:cut].encode("cp1252")}
    with pytest.raises(ImportFormatError, match="cut off") as raised:
        untis_html.parse_untis_html_pages(pages)
    assert where in raised.value.message
    assert raised.value.file == "subst_001.htm"


def test_a_cut_off_list_names_the_line_where_it_begins() -> None:
    cut = COMPLETE[: COMPLETE.rindex("</table>")]
    with pytest.raises(ImportFormatError) as raised:
        untis_html.parse_untis_html(cut.encode(), "subst_003.htm")
    begins = COMPLETE.count("\n", 0, COMPLETE.rindex('<table class="mon_list"')) + 1
    assert raised.value.line == begins
    assert "'mon_list'" in raised.value.message


@pytest.mark.parametrize(
    "ending",
    [
        COMPLETE,
        COMPLETE + "\r\n\r\n  \n",
        COMPLETE + "<!-- Hosting: Seite erzeugt in 0.02 s --><script>track()</script>",
        COMPLETE.replace("</html>", ""),
        COMPLETE.replace("</body>", "").replace("</html>", "</HTML>"),
        COMPLETE.replace("</td>", "").replace("</tr>", ""),
    ],
)
def test_a_complete_page_is_never_refused(ending: str) -> None:
    batch = untis_html.parse_untis_html_pages({"subst_001.htm": ending.encode("cp1252")})
    assert batch.covered_dates == {MONDAY, TUESDAY}
    assert [sub.new_classes for sub in batch.substitutions] == [("5a",), ("5b",)]
    assert batch.warnings == []


def test_the_real_samples_are_complete_pages() -> None:
    for name in ("subst-2019-schulit.htm", "subst_001-monitor-2018.htm"):
        assert untis_html.parse_untis_html_pages({name: sample(name)}).substitutions


def test_a_chain_of_three_pages_all_there_covers_its_day() -> None:
    info = "<tr class='info'><td class='info' colspan=\"2\">Elternsprechtag</td></tr>"
    pages = {
        f"subst_00{n}.htm": monitor_page(
            (monday(n, 3), substitution_row("5a", str(n))),
            refresh=f"subst_00{n % 3 + 1}.htm",
            info=info,
        )
        for n in (1, 2, 3)
    }
    batch = untis_html.parse_untis_html_pages(encoded(pages))
    assert [sub.period for sub in batch.substitutions] == [1, 2, 3]
    assert batch.covered_dates == batch.absence_dates == batch.message_dates == {MONDAY}
    assert batch.partial_dates == set()
    assert batch.missing_pages == []
    assert batch.warnings == []
    assert batch.day_messages == [DayMessage(MONDAY, "Elternsprechtag")]


def test_only_page_one_of_five_adds_its_entries_and_removes_nothing() -> None:
    first = monitor_page((monday(1, 5), substitution_row("5a", "1")), refresh="subst_002.htm")
    batch = untis_html.parse_untis_html_pages(encoded({"subst_001.htm": first}))
    assert [sub.new_classes for sub in batch.substitutions] == [("5a",)]
    assert batch.partial_dates == {MONDAY}
    assert batch.covered_dates == batch.absence_dates == batch.message_dates == set()
    assert batch.missing_pages == [f"subst_00{n}.htm" for n in (2, 3, 4, 5)]
    assert len(batch.warnings) == 1
    warning = batch.warnings[0]
    assert warning.file == "subst_001.htm"
    assert "23.11.2026 is not complete (pages 2-5 of 5 are missing" in warning.message
    assert "subst_002.htm, subst_003.htm, subst_004.htm, subst_005.htm" in warning.message
    assert "none are removed" in warning.message


@pytest.mark.parametrize("numbered", [True, False], ids=["with Seite", "without Seite"])
def test_a_day_whose_next_page_is_missing_is_partial(numbered: bool) -> None:
    # Page 2 of Monday is gone; page 1 refreshes to it.
    title = monday(1, 2) if numbered else monday()
    pages = {
        "subst_001.htm": monitor_page((title, substitution_row("5a", "1")), refresh="subst_002.htm")
    }
    batch = untis_html.parse_untis_html_pages(encoded(pages))
    assert (batch.covered_dates, batch.partial_dates) == (set(), {MONDAY})
    assert batch.missing_pages == ["subst_002.htm"]
    assert "subst_002.htm" in batch.warnings[0].message


def test_a_day_that_may_begin_on_a_missing_page_is_partial() -> None:
    # Without "Seite x / y" Tuesday, after the gap, may have begun on the missing subst_002.htm.
    pages = {
        "subst_001.htm": monitor_page(
            (monday(), substitution_row("5a", "1")), refresh="subst_002.htm"
        ),
        "subst_003.htm": monitor_page(
            (tuesday(), substitution_row("5b", "1")), refresh="subst_001.htm"
        ),
    }
    batch = untis_html.parse_untis_html_pages(encoded(pages))
    assert batch.partial_dates == {MONDAY, TUESDAY}
    assert batch.covered_dates == set()
    assert batch.missing_pages == ["subst_002.htm"]


def test_a_missing_page_between_two_complete_days_is_named() -> None:
    # Seite 1 / 1 says both days are whole: what subst_002.htm held cannot be known.
    pages = {
        "subst_001.htm": monitor_page(
            (monday(1, 1), substitution_row("5a", "1")), refresh="subst_002.htm"
        ),
        "subst_003.htm": monitor_page(
            (tuesday(1, 1), substitution_row("5b", "1")), refresh="subst_001.htm"
        ),
    }
    batch = untis_html.parse_untis_html_pages(encoded(pages))
    assert batch.covered_dates == {MONDAY, TUESDAY}
    assert batch.missing_pages == ["subst_002.htm"]
    assert [(w.file, w.message) for w in batch.warnings] == [
        (
            "subst_001.htm",
            "subst_002.htm is not in the export (named by subst_001.htm): the days on it are not "
            "known and keep their substitutions",
        )
    ]


def test_a_refresh_out_of_the_chain_is_no_gap() -> None:
    batch = untis_html.parse_untis_html_pages({"subst-2019.htm": sample("subst-2019-schulit.htm")})
    assert batch.covered_dates == {date(2019, 6, 10)}
    assert batch.missing_pages == []
    # The exam row of the page is on another day, which the page does not list completely.
    assert batch.partial_dates == {date(2019, 6, 13)}


def test_the_real_monitor_page_alone_is_page_one_of_a_chain() -> None:
    batch = untis_html.parse_untis_html_pages(
        {"subst_001.htm": sample("subst_001-monitor-2018.htm")}
    )
    assert batch.partial_dates == {date(2018, 1, 1)}
    assert batch.covered_dates == set()
    assert batch.missing_pages == ["subst_002.htm"]
    assert len(batch.substitutions) == 9


def untis_2025_export() -> dict[str, str]:
    """Monday in f1 on two pages, Tuesday in f2 on one, behind the frameset page."""
    return {
        "subst.htm": frameset("f1/subst_001.htm", "f2/subst_001.htm"),
        "f1/subst_001.htm": monitor_page(
            (monday(1, 2), substitution_row("5a", "1")), refresh="subst_002.htm"
        ),
        "f1/subst_002.htm": monitor_page(
            (monday(2, 2), substitution_row("5a", "2")), refresh="subst_001.htm"
        ),
        "f2/subst_001.htm": monitor_page(
            (tuesday(1, 1), substitution_row("5b", "3")), refresh="subst_001.htm"
        ),
    }


def test_the_untis_2025_frameset_imports_both_chains() -> None:
    batch = untis_html.parse_untis_html_pages(encoded(untis_2025_export()))
    assert batch.warnings == []
    assert batch.covered_dates == {MONDAY, TUESDAY}
    assert batch.partial_dates == set()
    assert [(sub.date, sub.period) for sub in batch.substitutions] == [
        (MONDAY, 1),
        (MONDAY, 2),
        (TUESDAY, 3),
    ]


def test_a_frameset_in_a_folder_with_differently_cased_names() -> None:
    export = {f"Vertretung/{name}": html for name, html in untis_2025_export().items()}
    export["Vertretung/subst.htm"] = frameset("F1/Subst_001.htm", "./f2/subst_001.htm")
    batch = untis_html.parse_untis_html_pages(encoded(export))
    assert (batch.covered_dates, batch.missing_pages, batch.warnings) == (
        {MONDAY, TUESDAY},
        [],
        [],
    )


def test_a_missing_frame_target_is_named() -> None:
    export = untis_2025_export()
    del export["f2/subst_001.htm"]
    batch = untis_html.parse_untis_html_pages(encoded(export))
    assert batch.covered_dates == {MONDAY}
    assert batch.missing_pages == ["f2/subst_001.htm"]
    assert len(batch.warnings) == 1
    assert batch.warnings[0].file == "subst.htm"
    assert batch.warnings[0].message.startswith("f2/subst_001.htm is not in the export")


def test_a_missing_page_of_a_frame_chain_is_named_with_its_folder() -> None:
    export = untis_2025_export()
    del export["f1/subst_002.htm"]
    batch = untis_html.parse_untis_html_pages(encoded(export))
    assert (batch.covered_dates, batch.partial_dates) == ({TUESDAY}, {MONDAY})
    assert batch.missing_pages == ["f1/subst_002.htm"]
    assert batch.warnings[0].file == "f1/subst_001.htm"


def test_a_frameset_page_alone_is_not_a_day_page() -> None:
    with pytest.raises(ImportFormatError, match="frameset"):
        untis_html.parse_untis_html(frameset("f1/subst_001.htm").encode(), "subst.htm")


@pytest.mark.parametrize(
    "declaration",
    [
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">',
    ],
)
def test_utf8_declared_but_written_in_windows_1252_is_read_with_a_warning(
    declaration: str,
) -> None:
    html = monitor_page((monday(), row("5a", "3", "Müller", "Weiß", "M", "A101", "Vertretung")))
    html = html.replace(
        '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">', declaration
    )
    batch = untis_html.parse_untis_html(html.encode("cp1252"), "f1/subst_001.htm")
    sub = batch.substitutions[0]
    assert (sub.original_teachers, sub.new_teachers) == (("Müller",), ("Weiß",))
    assert [(w.file, w.message) for w in batch.warnings] == [
        (
            "f1/subst_001.htm",
            "declares charset 'utf-8' but is not written in it; read as Windows-1252 "
            "(check names with umlauts)",
        )
    ]


def test_pages_without_a_declaration_and_latin1_pages_read_as_windows_1252() -> None:
    rows = row("5a", "3", "Müller", "Weiß", "M", "A101", "Vertretung")
    texts = [
        page(rows, info="<tr><td colspan='2'>„Projekttag“ – 5 €</td></tr>", charset=charset)
        for charset in ("iso-8859-1", "us-ascii")
    ]
    undeclared = page(rows).replace("charset=iso-8859-1", "").encode("cp1252")
    for data in (*[text.encode("cp1252") for text in texts], undeclared):
        batch = untis_html.parse_untis_html(data)
        assert batch.warnings == []
        assert batch.substitutions[0].new_teachers == ("Weiß",)
    assert untis_html.parse_untis_html(texts[0].encode("cp1252")).day_messages == [
        DayMessage(DAY, "„Projekttag“ – 5 €")
    ]


def test_an_unknown_declared_charset_is_read_as_windows_1252_with_a_warning() -> None:
    html = page(row("5a", "3", "Müller", "Weiß", "M", "A101", "Vertretung"), charset="x-untis")
    batch = untis_html.parse_untis_html(html.encode("cp1252"))
    assert batch.substitutions[0].original_teachers == ("Müller",)
    assert [w.message for w in batch.warnings] == [
        "declares the unknown charset 'x-untis'; read as Windows-1252"
    ]


def test_bytes_windows_1252_leaves_undefined_are_no_error() -> None:
    html = page(row("5a", "3", "Mül", "Sch", "M", "A101", "Vertretung"), charset="windows-1252")
    batch = untis_html.parse_untis_html(html.encode("cp1252").replace(b"Sch", b"Sch\x81"))
    assert batch.substitutions[0].new_teachers == ("Sch\x81",)


# The teacher-room layout: a first header row groups the columns ("Vertretung", "statt"), the
# second names them; Klasse(n), Stunde and Art span both rows.
TWO_ROW_HEADER = (
    "<tr class='list'>"
    '<th class="list" align="center" rowspan="2">Klasse(n)</th>'
    '<th class="list" align="center" rowspan="2">Stunde</th>'
    '<th class="list" align="center" colspan="3">Vertretung</th>'
    '<th class="list" align="center" colspan="3">statt</th>'
    '<th class="list" align="center" rowspan="2">Art</th></tr>\n'
    "<tr class='list'>"
    + "".join(
        f'<th class="list" align="center">{name}</th>'
        for name in ("Lehrer", "Fach", "Raum", "Lehrer", "Fach", "Raum")
    )
    + "</tr>"
)
# The same with blank group cells instead of rowspan, as other schools have it.
TWO_ROW_HEADER_BLANKS = (
    "<tr class='list'>"
    '<th class="list" colspan="2">&nbsp;</th>'
    '<th class="list" colspan="3">Vertretung</th>'
    '<th class="list" colspan="3">statt</th>'
    '<th class="list">&nbsp;</th></tr>\n'
    "<tr class='list'>"
    + "".join(
        f'<th class="list">{name}</th>'
        for name in (
            "Klasse(n)",
            "Stunde",
            "Lehrer",
            "Fach",
            "Raum",
            "Lehrer",
            "Fach",
            "Raum",
            "Art",
        )
    )
    + "</tr>"
)
ONE_ROW_STATT = (
    "<tr class='list'>"
    + "".join(
        f'<th class="list">{name}</th>'
        for name in (
            "Klasse(n)",
            "Stunde",
            "Vertreter",
            "Fach",
            "Raum",
            "statt Lehrer",
            "statt Fach",
            "statt Raum",
            "Art",
        )
    )
    + "</tr>"
)


@pytest.mark.parametrize(
    "headers",
    [TWO_ROW_HEADER, TWO_ROW_HEADER_BLANKS, ONE_ROW_STATT],
    ids=["rowspan", "blank", "one row"],
)
def test_statt_columns_hold_the_original_values(headers: str) -> None:
    cells = ("5a", "3", "Sch", "SF", "TH2", "Mül", "SP", "TH1", "Vertretung")
    rows = "<tr class='list'>" + "".join(f'<td class="list">{c}</td>' for c in cells) + "</tr>"
    batch = untis_html.parse_untis_html(monitor_page((monday(), rows), headers=headers).encode())
    assert batch.warnings == []
    sub = batch.substitutions[0]
    assert (sub.original_subject, sub.new_subject) == ("SP", "SF")
    assert (sub.original_teachers, sub.new_teachers) == (("Mül",), ("Sch",))
    assert (sub.original_rooms, sub.new_rooms) == (("TH1",), ("TH2",))
    assert (sub.original_classes, sub.new_classes) == (("5a",), ("5a",))


def test_statt_classes_and_old_and_new_rooms_in_one_header_row() -> None:
    headers = ("Stunde", "Klasse(n)", "statt Klasse(n)", "neuer Raum", "alter Raum", "Art")
    batch = untis_html.parse_untis_html(
        page(row("2", "6b", "6a", "B202", "A101", "Raumtausch"), headers=headers).encode()
    )
    assert batch.warnings == []
    sub = batch.substitutions[0]
    assert (sub.original_classes, sub.new_classes) == (("6a",), ("6b",))
    assert (sub.original_rooms, sub.new_rooms) == (("A101",), ("B202",))


def test_a_planned_period_column_is_not_read_into_the_period() -> None:
    headers = ("Stunde", "statt Stunde", "Vertreter", "Art")
    batch = untis_html.parse_untis_html(
        page(row("4", "6", "Sch", "Verlegung"), headers=headers).encode()
    )
    assert [(sub.period, sub.kind) for sub in batch.substitutions] == [(4, MOVED)]
    assert [w.message for w in batch.warnings] == ["column 'statt Stunde' not read"]


def test_two_columns_of_one_field_under_unknown_groups_are_told() -> None:
    headers = (
        "<tr class='list'><th colspan='2'>&nbsp;</th><th>Block 1</th><th>Block 2</th></tr>"
        "<tr class='list'><th>Klasse(n)</th><th>Stunde</th><th>Fach</th><th>Fach</th></tr>"
    )
    html = page("", headers=()).replace('<tr class="list"></tr>', headers)
    html = html.replace("</table></center>", row("5a", "1", "D", "E") + "</table></center>")
    batch = untis_html.parse_untis_html(html.encode())
    assert batch.substitutions[0].new_subject == "D E"
    assert [w.message for w in batch.warnings] == [
        "2 columns read as subject; their values are joined"
    ]
