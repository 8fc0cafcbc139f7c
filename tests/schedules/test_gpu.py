"""Untis GPU exports: separators, encodings, broken lines, each substitution type, real samples."""

from collections.abc import Callable
from dataclasses import astuple
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from schedules import untis_gpu
from schedules.import_data import (
    ABSENT_CLASS,
    ABSENT_ROOM,
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
    ImportFormatError,
)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "untis"


def sample(name: str) -> bytes:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"sample {name} not available")
    return path.read_bytes()


def gpu_line(values: dict[int, str], width: int, separator: str = ",") -> str:
    """A GPU line with the given 1-based fields set and the rest empty."""
    return separator.join(values.get(number, "") for number in range(1, width + 1))


def gpu014(art: int = 0, letter: str = "", **fields: str) -> bytes:
    values = {
        1: "7",
        2: '"20240902"',
        3: "3",
        5: "42",
        6: '"Mül"',
        7: '"Sch"',
        8: '"M"',
        12: '"A101"',
        15: '"5a~5b"',
        16: '"K"',
        17: '"Text, mit Komma"',
        18: str(art),
        20: f'"{letter}"',
        21: "202409011530",
    }
    values.update({int(key.lstrip("f")): value for key, value in fields.items()})
    return (gpu_line(values, 22) + "\r\n").encode("cp1252")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("GPU001.TXT", "GPU001"),
        ("gpu014.txt", "GPU014"),
        ("GPU014-schulit.TXT", "GPU014"),
        ("export/GPU003.txt", "GPU003"),
        ("C:\\Untis\\GPU004.TXT", "GPU004"),
        ("GPU0141.TXT", None),
        ("notes.txt", None),
        ("Export_GPU014.TXT", "GPU014"),
        ("2026-12-03_GPU014.TXT", "GPU014"),
        ("gpu014 (1).txt", "GPU014"),
        ("Untis/Export-gpu003_2026.txt", "GPU003"),
        ("GPU001_GPU014.TXT", None),
    ],
)
def test_gpu_file_type_is_read_from_the_name(name: str, expected: str | None) -> None:
    assert untis_gpu.gpu_file_type(name) == expected


def test_semicolon_utf8_bom_timetable_merges_the_rows_of_each_coupling_line() -> None:
    data = (
        "\ufeff"
        '1;"5a";"Mül";"D";"A101";1;1;;\r\n'
        '1;"5b";"Mül";"D";"A101";1;1;;\r\n'
        '1;"5b";"Kön";"D";"A102";1;1;;\r\n'
        '2;"5a";"Sch";"M";"A101";1;2;;\r\n'
    ).encode()
    lessons, warnings = untis_gpu.parse_timetable(data)
    assert warnings == []
    assert [
        (lesson.lesson_number, lesson.period, lesson.teachers, lesson.classes, lesson.rooms)
        for lesson in lessons
    ] == [
        (1, 1, ("Mül",), ("5a", "5b"), ("A101",)),
        (1, 1, ("Kön",), ("5b",), ("A102",)),
        (2, 2, ("Sch",), ("5a",), ("A101",)),
    ]
    assert lessons[2].subject == "M"


def test_tab_separated_padded_fields_and_extra_trailing_fields() -> None:
    data = '3\t  "5a" \t KRÄ \t BIO\tBIO1 \t 2\t3\t\textra\tmore\n'.encode()
    lessons, warnings = untis_gpu.parse_timetable(data)
    assert warnings == []
    assert len(lessons) == 1
    lesson = lessons[0]
    assert (lesson.lesson_number, lesson.weekday, lesson.period) == (3, 2, 3)
    assert (lesson.classes, lesson.teachers, lesson.subject, lesson.rooms) == (
        ("5a",),
        ("KRÄ",),
        "BIO",
        ("BIO1",),
    )


def test_comma_windows_1252_and_iso_8859_1_are_decoded() -> None:
    cp1252 = '4,"6a","Wöl","E","A102",3,4,,\n'.encode("cp1252")
    latin1 = '5,"6b","Groß","MU","Aula",4,5,,\n'.encode("latin-1")
    assert untis_gpu.parse_timetable(cp1252)[0][0].teachers == ("Wöl",)
    assert untis_gpu.parse_timetable(latin1)[0][0].teachers == ("Groß",)


def test_utf8_without_bom_is_decoded() -> None:
    data = '6,"7c","Çel","D","A103",5,6,,\n'.encode()
    assert untis_gpu.parse_timetable(data)[0][0].teachers == ("Çel",)


def timetable_line(number: int, day: int = 1, period: int = 1) -> str:
    return f'{number},"5a","Mül","D","A101",{day},{period},,'


def test_truncated_line_is_skipped_with_file_and_line() -> None:
    data = b'1,"5a","M\xfcl","D","A101",1,1,,\n2,"5a","Sch","M"\n3,"5a","Sch","M","A101",2,2,,\n'
    lessons, warnings = untis_gpu.parse_timetable(data, "GPU001.TXT")
    assert [lesson.lesson_number for lesson in lessons] == [1, 3]
    assert len(warnings) == 1
    assert (warnings[0].file, warnings[0].line) == ("GPU001.TXT", 2)
    assert "truncated" in warnings[0].message


def test_line_with_an_impossible_day_is_skipped() -> None:
    data = b'1,"5a","Sch","D","A101",9,1,,\n2,"5a","Sch","M","A101",2,2,,\n'
    lessons, warnings = untis_gpu.parse_timetable(data)
    assert [lesson.lesson_number for lesson in lessons] == [2]
    assert warnings[0].line == 1
    assert "day 9" in warnings[0].message


def test_substitutions_given_as_timetable_is_a_format_error() -> None:
    with pytest.raises(ImportFormatError) as error:
        untis_gpu.parse_timetable(gpu014(letter="C"), "GPU001.TXT")
    assert error.value.file == "GPU001.TXT"
    assert "not a GPU001 export" in str(error.value)


def test_timetable_given_as_substitutions_is_a_format_error() -> None:
    with pytest.raises(ImportFormatError, match="not a GPU014 export"):
        untis_gpu.parse_substitutions(b'1,"5a","Sch","D","A101",1,1,,\n')


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 4, b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 3],
    ids=["with-nul", "without-nul"],
)
def test_binary_garbage_is_a_format_error(data: bytes) -> None:
    with pytest.raises(ImportFormatError):
        untis_gpu.parse_timetable(data)


def test_empty_file_has_no_rows_and_no_error() -> None:
    assert untis_gpu.parse_substitutions(b"") == ([], [])


@pytest.mark.parametrize(
    ("letter", "kind", "flag"),
    [
        ("T", MOVED, "moved_away"),
        ("F", MOVED, "moved_in"),
        ("W", SWAP, None),
        ("S", SUPERVISION, None),
        ("A", SPECIAL_DUTY, None),
        ("C", CANCELLATION, None),
        ("L", RELEASED, None),
        ("P", SUBSTITUTION, "partial"),
        ("R", ROOM_CHANGE, None),
        ("B", BREAK_SUPERVISION, None),
        ("~", SWAP, "teacher_swap"),
        ("E", EXAM, None),
        ("", SUBSTITUTION, None),
        (" C", CANCELLATION, None),
    ],
)
def test_type_letter_decides_the_kind(letter: str, kind: str, flag: str | None) -> None:
    substitutions, warnings = untis_gpu.parse_substitutions(gpu014(letter=letter))
    assert warnings == []
    assert substitutions[0].kind == kind
    assert substitutions[0].flags == (frozenset({flag}) if flag else frozenset())


@pytest.mark.parametrize(
    ("bit", "kind", "flag"),
    [
        (0, CANCELLATION, "cancelled"),
        (1, SUPERVISION, "supervision"),
        (2, SPECIAL_DUTY, "special_duty"),
        (3, MOVED, "moved_away"),
        (4, RELEASED, "teacher_freed"),
        (5, SUBSTITUTION, "plus_as_substitute"),
        (6, SUBSTITUTION, "partial"),
        (7, MOVED, "moved_in"),
        (16, ROOM_CHANGE, "room_substitution"),
        (17, BREAK_SUPERVISION, "break_supervision"),
        (18, SUBSTITUTION, "lesson_free"),
        (20, SUBSTITUTION, "do_not_print"),
        (21, SUBSTITUTION, "new"),
    ],
)
def test_art_bits_decide_the_kind_without_a_type_letter(bit: int, kind: str, flag: str) -> None:
    substitutions, _ = untis_gpu.parse_substitutions(gpu014(art=1 << bit))
    assert substitutions[0].kind == kind
    assert substitutions[0].flags == {flag}


def test_moved_away_happens_elsewhere_moved_in_happens_here() -> None:
    away = untis_gpu.parse_substitutions(gpu014(letter="T"))[0][0]
    here = untis_gpu.parse_substitutions(gpu014(letter="F"))[0][0]
    assert (away.new_subject, away.new_teachers, away.new_classes) == ("", (), ())
    assert (here.new_subject, here.new_teachers, here.new_classes) == ("M", ("Sch",), ("5a", "5b"))


def test_type_letter_wins_over_art_bits() -> None:
    assert untis_gpu.decode_art((1 << 0) | (1 << 21), "R") == (ROOM_CHANGE, {"cancelled", "new"})


def test_unknown_type_letter_is_a_substitution_with_a_warning() -> None:
    substitutions, warnings = untis_gpu.parse_substitutions(gpu014(letter="X"), "GPU014.TXT")
    assert substitutions[0].kind == SUBSTITUTION
    assert warnings[0].line == 1
    assert "'X'" in warnings[0].message


def test_substitution_fields_and_unchanged_values_filled_in() -> None:
    sub = untis_gpu.parse_substitutions(gpu014())[0][0]
    assert sub.external_id == "7"
    assert sub.date == date(2024, 9, 2)
    assert (sub.period, sub.period_to, sub.lesson_number) == (3, 3, 42)
    assert (sub.original_teachers, sub.new_teachers) == (("Mül",), ("Sch",))
    assert (sub.original_subject, sub.new_subject) == ("M", "M")
    assert (sub.original_rooms, sub.new_rooms) == (("A101",), ("A101",))
    assert (sub.original_classes, sub.new_classes) == (("5a", "5b"), ("5a", "5b"))
    assert sub.text == "Text, mit Komma"
    assert sub.reason == "K"
    assert sub.last_change == datetime(2024, 9, 1, 15, 30)


def test_room_change_keeps_the_teacher_and_cancellation_has_nothing_new() -> None:
    room = untis_gpu.parse_substitutions(gpu014(letter="R", f7="", f13='"B202"'))[0][0]
    assert (room.new_teachers, room.new_rooms) == (("Mül",), ("B202",))
    cancelled = untis_gpu.parse_substitutions(gpu014(letter="C", f19='"5a"'))[0][0]
    assert (cancelled.new_subject, cancelled.new_teachers) == ("", ())
    assert (cancelled.new_rooms, cancelled.new_classes) == ((), ())
    assert cancelled.original_classes == ("5a", "5b")


def test_master_data_files() -> None:
    classes, _ = untis_gpu.parse_classes(
        (gpu_line({1: '"5a"', 2: '"Klasse 5a"', 4: '"A101"', 30: '"Mül"'}, 33) + "\n").encode()
    )
    assert classes[0].name == "5a"
    assert (classes[0].long_name, classes[0].room, classes[0].teacher) == (
        "Klasse 5a",
        "A101",
        "Mül",
    )

    teacher_values = {1: '"Mül"', 2: '"Müller"', 29: '"Anna"', 30: '"Dr."', 33: '"a@s.example"'}
    teachers, _ = untis_gpu.parse_teachers(
        (gpu_line(teacher_values, 45, ";") + "\n").encode("cp1252")
    )
    assert teachers[0].abbreviation == "Mül"
    assert (teachers[0].last_name, teachers[0].first_name) == ("Müller", "Anna")
    assert (teachers[0].title, teachers[0].email) == ("Dr.", "a@s.example")

    rooms, _ = untis_gpu.parse_rooms(
        (gpu_line({1: '"TH1"', 2: '"Turnhalle"', 8: "60"}, 19)).encode()
    )
    assert (rooms[0].name, rooms[0].long_name, rooms[0].capacity) == ("TH1", "Turnhalle", 60)

    subjects, _ = untis_gpu.parse_subjects(b'"BIO","Biologie",,,\n"M","Mathematik"\n')
    assert [(s.name, s.long_name) for s in subjects] == [("BIO", "Biologie"), ("M", "Mathematik")]


def test_absences_of_teachers_classes_and_rooms() -> None:
    data = (
        '1,"L","Mül","20240902","20240903",1,4,"K","Fortbildung"\n'
        '2,"K","5a","20240904","20240904",,,"Klassenfahrt",\n'
        '3,"R","A101","20240905","20240905",3,3,,\n'
        '4,"X","A101","20240905","20240905",3,3,,\n'
    ).encode()
    absences, warnings = untis_gpu.parse_absences(data, "GPU013.TXT")
    assert [(a.kind, a.name) for a in absences] == [
        (ABSENT_TEACHER, "Mül"),
        (ABSENT_CLASS, "5a"),
        (ABSENT_ROOM, "A101"),
    ]
    teacher = absences[0]
    assert (teacher.from_date, teacher.to_date) == (date(2024, 9, 2), date(2024, 9, 3))
    assert (teacher.first_period, teacher.last_period) == (1, 4)
    assert (teacher.reason, teacher.text, teacher.external_id) == ("K", "Fortbildung", "1")
    assert (absences[1].first_period, absences[1].last_period) == (None, None)
    assert [(w.line, "'X'" in w.message) for w in warnings] == [(4, True)]


def test_parse_gpu_files_combines_timetable_and_courses() -> None:
    files = {
        "GPU001.TXT": b'10,"5a","Mul","REV","A101",2,3,,\n10,"5a","Kat","RKA","GR1",2,3,,\n',
        "GPU009.TXT": b"ignored",
        "GPU014.TXT": gpu014(letter="C"),
    }
    files["gpu002.txt"] = (
        gpu_line(
            {
                1: "10",
                2: "2",
                5: '"5a"',
                6: '"Mul"',
                7: '"REV"',
                12: '"A"',
                15: '"20240801"',
                16: '"20250731"',
                42: '"REV_5"',
            },
            47,
        )
        + "\n"
    ).encode()
    batch = untis_gpu.parse_gpu_files(files)
    assert batch.source == "untis-gpu"
    assert [(w.file, w.line) for w in batch.warnings] == [("GPU009.TXT", None)]
    by_subject = {lesson.subject: lesson for lesson in batch.lessons}
    assert by_subject["REV"].course == "REV_5"
    assert by_subject["REV"].week_type == "A"
    assert by_subject["REV"].valid_from == date(2024, 8, 1)
    assert by_subject["REV"].valid_to == date(2025, 7, 31)
    # RKA has no GPU002 line of its own: it falls back to the lesson number's first line.
    assert by_subject["RKA"].valid_to == date(2025, 7, 31)
    assert batch.covered_dates == {date(2024, 9, 2)}
    assert batch.substitutions[0].kind == CANCELLATION


def test_two_files_of_one_type_are_refused() -> None:
    with pytest.raises(ImportFormatError, match="second GPU014"):
        untis_gpu.parse_gpu_files({"GPU014.TXT": gpu014(), "a/gpu014.txt": gpu014()})


def test_sample_gpu014_substitutions() -> None:
    substitutions, warnings = untis_gpu.parse_substitutions(sample("GPU014-schulit.TXT"))
    assert warnings == []
    assert [sub.external_id for sub in substitutions] == ["1", "4", "5"]
    first, second, third = substitutions
    assert first.date == date(2009, 8, 24)
    assert (first.period, first.lesson_number, first.kind) == (1, 1865, SUBSTITUTION)
    assert (first.original_teachers, first.new_teachers) == (("BecSa",), ("BecHe",))
    assert (first.original_subject, first.new_subject) == ("BIO", "M")
    assert (first.original_rooms, first.new_rooms) == (("R B3",), ("R B4",))
    assert first.original_classes == ("10c", "10a")
    assert first.new_classes == ("10c", "10a", "10b")
    assert first.flags == {"new"}
    assert first.last_change == datetime(2020, 2, 23, 12, 17)
    assert (second.new_teachers, second.new_subject, second.new_rooms) == (
        ("AnnKo",),
        "G",
        ("SR 1",),
    )
    assert second.text == "Lorem ipsum."
    assert third.kind == CANCELLATION
    assert third.flags == {"cancelled", "new"}
    assert (third.original_classes, third.new_classes) == (("7d",), ())


def test_sample_gpu002_courses_windows_1252() -> None:
    courses, warnings = untis_gpu.parse_courses(sample("GPU002-schulit.TXT"))
    assert warnings == []
    assert len(courses) == 922  # 1,057 rows, coupled class rows merged per teacher and subject
    by_key = {(c.lesson_number, c.teacher, c.subject): c for c in courses}
    german = by_key[(1494, "MárGa", "D  G4")]
    assert (german.name, german.classes, german.room) == ("DG4_13", ("13",), "MSS 3")
    assert (german.valid_from, german.valid_to) == (date(2009, 8, 24), date(2010, 7, 16))
    assert by_key[(1418, "CoeJM", "D  G4")].week_type == "UW"
    assert by_key[(1744, "ShaGe", "ER")].classes == ("10a", "10b", "10g")
    assert by_key[(1744, "ShoMi", "KR")].classes == ("10a", "10b")
    assert by_key[(1492, "ThöGu", "SP G6")].hours_per_week == 2.0


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f'1,"5a","Sch","D","A101",1,{HUGE},,', f"field 7 (period) is {HUGE!r}, not within"),
        ('1,"5a","Sch","D","A101",1,31,,', "period 31 is not 0 to 30"),
        ('1,"5a","Sch","D","A101",1,-1,,', "period -1 is not 0 to 30"),
        (f'1,"5a","Sch","D","A101",{HUGE},1,,', f"field 6 (day) is {HUGE!r}, not within"),
        (f'{HUGE},"5a","Sch","D","A101",1,1,,', f"field 1 (lesson number) is {HUGE!r}"),
        ('2147483648,"5a","Sch","D","A101",1,1,,', "field 1 (lesson number) is '2147483648'"),
        ('²,"5a","Sch","D","A101",1,1,,', "field 1 (lesson number) is '²', not a number"),
    ],
)
def test_absurd_timetable_numbers_skip_the_line(line: str, message: str) -> None:
    data = f'{line}\n2,"5a","Sch","M","A101",2,2,,\n'.encode()
    lessons, warnings = untis_gpu.parse_timetable(data)
    assert [lesson.lesson_number for lesson in lessons] == [2]
    assert warnings[0].line == 1
    assert message in warnings[0].message


def test_the_largest_lesson_number_still_fits() -> None:
    lessons, warnings = untis_gpu.parse_timetable(b'2147483647,"5a","Sch","M","A101",2,2,,\n')
    assert (lessons[0].lesson_number, warnings) == (2**31 - 1, [])


@pytest.mark.parametrize(
    "fields",
    [{"f3": HUGE}, {"f3": "31"}, {"f5": HUGE}, {"f18": HUGE}],
)
def test_absurd_substitution_numbers_skip_the_line(fields: dict[str, str]) -> None:
    data = gpu014(**fields) + gpu014(f1="8")
    substitutions, warnings = untis_gpu.parse_substitutions(data, "GPU014.TXT")
    assert [sub.external_id for sub in substitutions] == ["8"]
    assert warnings[0].line == 1
    assert "not within" in warnings[0].message


def test_absurd_absence_periods_and_room_capacity_skip_the_line() -> None:
    absences, warnings = untis_gpu.parse_absences(
        f'1,"L","Mül","20240902","20240903",1,{HUGE},,\n'
        '2,"L","Sch","20240902","20240903",1,31,,\n'
        '3,"L","Kön","20240902","20240903",1,4,,\n'.encode()
    )
    assert [absence.name for absence in absences] == ["Kön"]
    assert [w.line for w in warnings] == [1, 2]
    rooms, warnings = untis_gpu.parse_rooms(
        f'"A101","Raum",,,,,,{HUGE}\n"A102","Raum",,,,,,30\n'.encode()
    )
    assert [(room.name, room.capacity) for room in rooms] == [("A102", 30)]
    assert "capacity" in warnings[0].message


# Cut-off files: real exports end every line with a line break


GPU001_FILE = "".join(timetable_line(n, day=n % 5 + 1) + "\r\n" for n in range(1, 6)).encode()
GPU014_FILE = b"".join(gpu014(f1=str(n)) for n in range(1, 4))
GPU014_QUOTED_LAST = b"".join(gpu014(f1=str(n), f22='"+~-"') for n in range(1, 4))


def cuts_inside_the_last_line(data: bytes) -> list[bytes]:
    """Every prefix of data that ends inside its last line, but the line without its break."""
    start = data.rstrip(b"\r\n").rfind(b"\n") + 1
    return [data[:end] for end in range(start + 1, len(data.rstrip(b"\r\n")))]


@pytest.mark.parametrize("data", cuts_inside_the_last_line(GPU001_FILE))
def test_timetable_cut_in_its_last_line_is_refused(data: bytes) -> None:
    with pytest.raises(ImportFormatError, match="looks cut off") as error:
        untis_gpu.parse_timetable(data, "GPU001.TXT")
    assert "nothing was imported" in error.value.message
    assert error.value.line == 5


@pytest.mark.parametrize("data", cuts_inside_the_last_line(GPU014_FILE))
def test_substitutions_cut_in_their_last_line_are_refused(data: bytes) -> None:
    with pytest.raises(ImportFormatError, match="looks cut off"):
        untis_gpu.parse_substitutions(data, "GPU014.TXT")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (GPU014_QUOTED_LAST.rstrip(b"\r\n")[:-2], "inside a quoted field"),  # ... ,"+~
        (GPU014_FILE[: GPU014_FILE.rindex(b"Text, mit") + 6], "inside a quoted field"),
        (GPU014_FILE[: GPU014_FILE.rindex(b'"M"') + 3], "8 of 22 fields"),
        (GPU001_FILE[: GPU001_FILE.rindex(b"A101")], "inside a quoted field"),
        (GPU001_FILE.rstrip(b"\r\n")[:-1], "8 of 9 fields"),
        (GPU001_FILE.rstrip(b"\r\n")[:-3], "7 of 9 fields"),
        (GPU001_FILE + b'6,"5a","M', "inside a quoted field"),
    ],
)
def test_cut_off_message_says_where_the_file_ends(data: bytes, where: str) -> None:
    with pytest.raises(ImportFormatError) as error:
        untis_gpu.parse_gpu_files({"GPU014.TXT": gpu014(), "x_GPU001.txt": data})
    assert error.value.message.startswith("the file ends in the middle of line")
    assert where in error.value.message


def test_cut_inside_a_quoted_text_with_a_line_break_is_refused() -> None:
    data = gpu014(f1="1") + gpu014(f1="2", f17='"erste Zeile\r\nzweite Zeile"')
    substitutions, _ = untis_gpu.parse_substitutions(data)
    assert substitutions[1].text == "erste Zeile\r\nzweite Zeile"
    with pytest.raises(ImportFormatError, match="inside a quoted field"):
        untis_gpu.parse_substitutions(data[: data.index(b"zweite")])


def test_a_gpu001_cut_off_replaces_no_weekly_plan() -> None:
    files = {"GPU001.TXT": GPU001_FILE[:-20], "GPU014.TXT": gpu014()}
    with pytest.raises(ImportFormatError, match="GPU001.TXT:5: the file ends in the middle"):
        untis_gpu.parse_gpu_files(files)


@pytest.mark.parametrize("ending", [b"", b"\r", b"\n", b"\r\n\r\n", b"\r\n  "])
def test_complete_last_line_without_a_line_break_is_read(ending: bytes) -> None:
    lessons, warnings = untis_gpu.parse_timetable(GPU001_FILE.rstrip(b"\r\n") + ending)
    assert (len(lessons), warnings) == (5, [])
    substitutions, warnings = untis_gpu.parse_substitutions(GPU014_FILE.rstrip(b"\r\n") + ending)
    assert (len(substitutions), warnings) == (3, [])


def test_a_single_complete_line_without_a_line_break_is_read() -> None:
    substitutions, warnings = untis_gpu.parse_substitutions(gpu014().rstrip(b"\r\n"))
    assert (len(substitutions), warnings) == (1, [])


def test_short_line_with_a_line_break_is_skipped_even_at_the_end() -> None:
    data = GPU001_FILE + b'6,"5a","Sch","M"\r\n'
    lessons, warnings = untis_gpu.parse_timetable(data, "GPU001.TXT")
    assert len(lessons) == 5
    assert [(w.line, w.message) for w in warnings] == [
        (6, "truncated line: 4 fields, GPU001 needs 7; skipped")
    ]


def test_utf16_file_cut_in_the_middle_of_a_character_is_refused() -> None:
    data = GPU001_FILE.decode().encode("utf-16")
    assert untis_gpu.parse_timetable(data)[0][0].teachers == ("Mül",)
    with pytest.raises(ImportFormatError, match="UTF-16 text ends in the middle of a character"):
        untis_gpu.parse_timetable(data[:-1])


# Header lines


@pytest.mark.parametrize(
    ("parse", "header", "line", "expected"),
    [
        (
            untis_gpu.parse_classes,
            "Name,Langname,Alias,Raum,Statistik 1",
            '"5a","Klasse 5a",,"A101",',
            ("5a", "Klasse 5a"),
        ),
        (
            untis_gpu.parse_classes,
            "Kürzel;Name;Alias;Stammraum",
            '"5a";"Klasse 5a";;"A101"',
            ("5a", "Klasse 5a"),
        ),
        (
            untis_gpu.parse_teachers,
            '"Kürzel";"Nachname";"Vorname";"E-Mail"',
            '"Mül";"Müller";;',
            ("Mül", "Müller"),
        ),
        (
            untis_gpu.parse_teachers,
            "Abbreviation,Last name,First name",
            '"Mül","Müller","Anna"',
            ("Mül", "Müller"),
        ),
        (
            untis_gpu.parse_rooms,
            "Name\tLong name\tCapacity",
            "TH1\tTurnhalle\t",
            ("TH1", "Turnhalle"),
        ),
        (untis_gpu.parse_rooms, "Raum;Langname;Kapazität", "TH1;Turnhalle;", ("TH1", "Turnhalle")),
        (untis_gpu.parse_subjects, "Name,Long name", '"M","Mathematik"', ("M", "Mathematik")),
        (untis_gpu.parse_subjects, "FACH;LANGNAME", '"M";"Mathematik"', ("M", "Mathematik")),
    ],
)
def test_header_line_of_master_data_is_skipped_with_a_warning(
    parse: Callable[..., tuple[list[Any], list[Any]]],
    header: str,
    line: str,
    expected: tuple[str, str],
) -> None:
    items, warnings = parse(f"{header}\r\n{line}\r\n".encode("cp1252"), "MASTER.TXT")
    assert [astuple(item)[:2] for item in items] == [expected]
    assert [(w.file, w.line, w.message) for w in warnings] == [
        ("MASTER.TXT", 1, "header line skipped")
    ]


def test_header_lines_of_a_timetable_are_skipped_not_read_as_bad_numbers() -> None:
    data = (
        "Stundenplan;;\r\n"
        "Unterricht;Klasse;Lehrer;Fach;Raum;Tag;Stunde\r\n" + GPU001_FILE.decode().replace(",", ";")
    ).encode()
    lessons, warnings = untis_gpu.parse_timetable(data, "GPU001.TXT")
    assert len(lessons) == 5
    assert [(w.line, w.message) for w in warnings] == [
        (1, "truncated line: 3 fields, GPU001 needs 7; skipped"),
        (2, "header line skipped"),
    ]


def test_two_header_lines_give_one_warning() -> None:
    data = b"Name,Langname\r\nKurzname,Bezeichnung\r\nM,Mathematik\r\n"
    subjects, warnings = untis_gpu.parse_subjects(data)
    assert [subject.name for subject in subjects] == ["M"]
    assert [(w.line, w.message) for w in warnings] == [(1, "2 header lines skipped")]


@pytest.mark.parametrize(
    "data",
    [
        b'"End","Ende",,"Michael"\r\n',  # a teacher called Ende: the first field is no column name
        b'"Raum","Raum"\r\n',  # one column name twice
        b'"Name","Klasse 5",12\r\n',  # a number: data
        b'"M","Mathematik"\r\n"Name","Langname"\r\n',  # below the first data line
    ],
)
def test_data_that_looks_a_little_like_a_header_is_read(data: bytes) -> None:
    teachers, warnings = untis_gpu.parse_teachers(data)
    assert warnings == []
    assert len(teachers) == len(data.splitlines())


def test_a_file_of_only_a_header_has_no_rows_and_no_error() -> None:
    assert untis_gpu.parse_substitutions(b"Nr,Datum,Stunde,Tag\r\n")[0] == []


# Files recognised by their content


def gpu002_line(number: int = 10) -> str:
    values = {1: str(number), 2: "2", 5: '"5a"', 6: '"Mul"', 7: '"REV"', 15: '"20240801"'}
    return gpu_line({**values, 16: '"20250731"', 42: '"REV_5"'}, 47)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (GPU014_FILE, "GPU014"),
        (GPU001_FILE, "GPU001"),
        (GPU001_FILE.decode().replace(",", "\t").encode("utf-16"), "GPU001"),
        ((gpu002_line() + "\r\n").encode(), "GPU002"),
        (b'1,"L","M\xfcl","20240902","20240903",1,4,"K","Fortbildung"\r\n', "GPU013"),
        (b'2;"K";"5a";"20240904";"20240904";;;"Klassenfahrt";\r\n', "GPU013"),
        (b"Nr,Datum,Stunde\r\n" + GPU014_FILE, "GPU014"),  # a header line does not count
        (b'"5a","Klasse 5a",,"A101"\r\n', None),  # master data: text only
        (b'"M","Mathematik"\r\n', None),
        (b"\x89PNG\r\n\x1a\n\x00\x00", None),
        (b"", None),
    ],
)
def test_gpu_file_type_is_read_from_the_content_when_the_name_does_not_say(
    data: bytes, expected: str | None
) -> None:
    assert untis_gpu.gpu_file_type("vertretungen.txt", data) == expected
    assert untis_gpu.gpu_file_type("GPU005.TXT", data) == "GPU005"


def test_a_large_file_is_recognised_from_its_first_lines() -> None:
    data = GPU014_FILE * 2000
    assert len(data) > 200_000
    assert untis_gpu.gpu_file_type("export.csv", data) == "GPU014"


def test_parse_gpu_files_reads_a_file_by_its_content() -> None:
    batch = untis_gpu.parse_gpu_files({"vertretungen.txt": GPU014_FILE, "notes.txt": b"hello"})
    assert [sub.external_id for sub in batch.substitutions] == ["1", "2", "3"]
    assert [(w.file, w.message) for w in batch.warnings] == [
        ("notes.txt", "not a GPU file this importer reads"),
        ("vertretungen.txt", "read as GPU014 (recognised by its content)"),
    ]


def test_a_named_and_a_recognised_file_of_one_type_are_refused() -> None:
    with pytest.raises(ImportFormatError, match="second GPU014 file next to GPU014.TXT"):
        untis_gpu.parse_gpu_files({"GPU014.TXT": gpu014(), "vertretungen.txt": GPU014_FILE})


# Row limit


def test_a_file_of_too_many_lines_is_refused_before_any_file_is_parsed() -> None:
    # The cut-off GPU001 of two lines comes first, yet the GPU014 of three lines is refused.
    files = {"GPU001.TXT": GPU001_FILE[:40], "GPU014.TXT": GPU014_FILE}
    with pytest.raises(ImportFormatError) as error:
        untis_gpu.parse_gpu_files(files, max_rows=2)
    assert str(error.value) == "GPU014.TXT: the file has 3 lines; at most 2 are imported in one go"


def test_the_default_row_limit_is_checked_before_decoding() -> None:
    data = b"x\r\n" * 200_001 + b"\x00 binary, never decoded"
    with pytest.raises(ImportFormatError) as error:
        untis_gpu.parse_substitutions(data, "GPU014.TXT")
    assert error.value.message == (
        "the file has 200,002 lines; at most 200,000 are imported in one go"
    )


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"a", 1),
        (b"a\r\nb\r\n", 2),
        (b"a\nb", 2),
        (b"a\rb\r\r", 3),
        ("a\r\nb\r\n".encode("utf-16-le"), 2),
        ("a\r\nb".encode("utf-16-be"), 2),
    ],
)
def test_a_file_of_as_many_lines_as_allowed_is_read(data: bytes, lines: int) -> None:
    untis_gpu.check_row_limit(data, "GPU006.TXT", max_rows=lines)
    with pytest.raises(ImportFormatError, match=f"has {lines} lines; at most {lines - 1} "):
        untis_gpu.check_row_limit(data, "GPU006.TXT", max_rows=lines - 1)


def test_per_file_parsers_take_the_row_limit() -> None:
    with pytest.raises(ImportFormatError, match="has 5 lines; at most 4"):
        untis_gpu.parse_timetable(GPU001_FILE, max_rows=4)
    assert len(untis_gpu.parse_timetable(GPU001_FILE, max_rows=5)[0]) == 5


# What a batch is authoritative for


def gpu013(day: str = "20240902") -> bytes:
    return f'1,"L","Mül","{day}","{day}",1,4,"K",""\r\n'.encode()


def test_substitutions_alone_cover_their_dates_but_no_absences() -> None:
    batch = untis_gpu.parse_gpu_files({"GPU014.TXT": GPU014_FILE})
    assert batch.covered_dates == {date(2024, 9, 2)}
    assert (batch.absence_dates, batch.message_dates, batch.weekly_plan) == (set(), set(), False)


def test_absences_with_substitutions_cover_the_substitution_dates() -> None:
    batch = untis_gpu.parse_gpu_files({"GPU013.TXT": gpu013(), "GPU014.TXT": GPU014_FILE})
    assert batch.absence_dates == batch.covered_dates == {date(2024, 9, 2)}
    assert [absence.name for absence in batch.absences] == ["Mül"]


def test_absences_without_substitutions_cover_no_date() -> None:
    batch = untis_gpu.parse_gpu_files({"GPU013.TXT": gpu013()})
    assert (batch.covered_dates, batch.absence_dates) == (set(), set())
    assert len(batch.absences) == 1


def test_a_timetable_replaces_the_weekly_plan() -> None:
    batch = untis_gpu.parse_gpu_files({"GPU001.TXT": GPU001_FILE})
    assert batch.weekly_plan is True
    assert len(batch.lessons) == 5
    assert untis_gpu.parse_gpu_files({"GPU014.TXT": GPU014_FILE}).weekly_plan is False


@pytest.mark.parametrize("data", [b"", b"\r\n", b"Unterricht,Klasse,Lehrer,Fach\r\n"])
def test_a_timetable_without_lessons_leaves_the_weekly_plan(data: bytes) -> None:
    batch = untis_gpu.parse_gpu_files({"GPU001.TXT": data})
    assert batch.weekly_plan is False
    assert ("GPU001.TXT", "no lessons: the weekly plan was left as it is") in [
        (w.file, w.message) for w in batch.warnings
    ]
