"""Untis GPU exports: separators, encodings, broken lines, each substitution type, real samples."""

from datetime import date, datetime
from pathlib import Path

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
