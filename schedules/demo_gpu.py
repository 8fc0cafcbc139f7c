"""A generated demo school as Untis GPU export files (GPU001-GPU006, GPU013, GPU014).

Deterministic for a seed, so demos, tests and benchmarks see the same school. The timetable is
built greedily: every class, teacher and room is in one place per period, religion
(REV/RKA/ETH/IRU) and the second foreign language (F/L/S) are parallel groups sharing one lesson
number.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from schedules.import_data import Period

PERIODS_PER_DAY = 10
SCHOOL_DAYS = (1, 2, 3, 4, 5)
TIME_GRID = (
    (time(7, 55), time(8, 40)),
    (time(8, 45), time(9, 30)),
    (time(9, 50), time(10, 35)),
    (time(10, 40), time(11, 25)),
    (time(11, 45), time(12, 30)),
    (time(12, 35), time(13, 20)),
    (time(13, 50), time(14, 35)),
    (time(14, 40), time(15, 25)),
    (time(15, 30), time(16, 15)),
    (time(16, 20), time(17, 5)),
)

_LAST_NAMES = (
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
    "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann "
    "Lange Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König "
    "Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel "
    "Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht "
    "Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto "
    "Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn "
    "Pohl Engel Horn Busch Bergmann Voigt Sauer Arnold Wolff Pfeiffer Yilmaz Öztürk Çelik Nowak"
)
_FEMALE_NAMES = (
    "Anna Julia Katrin Sabine Claudia Petra Stefanie Andrea Birgit Jana Lena Sophie Miriam Ute "
    "Renate Jutta Ines Heike Nicole Sandra Tanja Carolin Franziska Jasmin Aylin Bärbel Doris"
)
_MALE_NAMES = (
    "Thomas Michael Andreas Stefan Frank Jürgen Matthias Markus Christian Jan Tobias Florian "
    "Jörg Uwe Klaus Peter Sebastian Daniel Martin Björn Sven Timo Lars Rüdiger Mehmet Günter"
)
LAST_NAMES = tuple(_LAST_NAMES.split())
FIRST_NAMES_FEMALE = tuple(_FEMALE_NAMES.split())
FIRST_NAMES_MALE = tuple(_MALE_NAMES.split())

SUBJECT_NAMES = {
    "D": "Deutsch",
    "M": "Mathematik",
    "E": "Englisch",
    "F": "Französisch",
    "L": "Latein",
    "S": "Spanisch",
    "BIO": "Biologie",
    "CH": "Chemie",
    "PH": "Physik",
    "INF": "Informatik",
    "GE": "Geschichte",
    "EK": "Erdkunde",
    "PO": "Politik",
    "KU": "Kunst",
    "MU": "Musik",
    "SP": "Sport",
    "REV": "Evangelische Religion",
    "RKA": "Katholische Religion",
    "ETH": "Ethik",
    "IRU": "Islamische Religion",
}
# Weekly hours per grade band (5-6, 7-10, 11-12). A unit of several subjects is a parallel group;
# those come early, while a class still has free periods to put four groups side by side.
CURRICULUM: tuple[tuple[tuple[str, ...], tuple[int, int, int]], ...] = (
    (("D",), (5, 5, 4)),
    (("REV", "RKA", "ETH", "IRU"), (2, 2, 2)),
    (("F", "L", "S"), (0, 4, 4)),
    (("M",), (5, 5, 4)),
    (("E",), (5, 4, 4)),
    (("BIO",), (2, 2, 2)),
    (("CH",), (0, 2, 2)),
    (("PH",), (0, 2, 2)),
    (("INF",), (1, 1, 2)),
    (("GE",), (2, 2, 2)),
    (("EK",), (2, 2, 2)),
    (("PO",), (0, 2, 2)),
    (("KU",), (2, 2, 2)),
    (("MU",), (2, 2, 2)),
    (("SP",), (3, 3, 3)),
)
# Subjects taught in special rooms: room prefix and long name. Others use the home room, and
# the second and third group of a parallel unit use group rooms.
SPECIAL_ROOMS = {
    "BIO": ("BIO", "Biologieraum"),
    "CH": ("CH", "Chemieraum"),
    "PH": ("PH", "Physikraum"),
    "INF": ("PC", "Computerraum"),
    "KU": ("KU", "Kunstraum"),
    "MU": ("MU", "Musikraum"),
    "SP": ("TH", "Turnhalle"),
}
GROUP_ROOM = ("GR", "Gruppenraum")
# Where a room change sends a lesson: the hall, or a group room.
SPARE_ROOM = "Aula"
# Where break supervisions take place.
YARD = "Hof"
ABSENCE_REASONS = ("K", "K", "K", "FB", "DR")
SUBSTITUTION_TEXTS = (
    "",
    "",
    "",
    "Aufgaben im Klassenraum",
    "Buch mitbringen",
    "bitte Raum beachten",
)

# kind -> (weight, GPU014 type letter, Art bit)
KINDS: dict[str, tuple[int, str, int | None]] = {
    "substitution": (45, "", None),
    "cancellation": (22, "C", 0),
    "room_change": (10, "R", 16),
    "supervision": (6, "S", 1),
    "moved": (4, "T", 3),
    "swap": (3, "W", None),
    "exam": (4, "E", None),
    "special_duty": (3, "A", 2),
    "released": (1, "L", 4),
    "break_supervision": (2, "B", 17),
}
NEW_BIT = 21
# An absent teacher's lesson cannot become a room change or exam taught by them.
_ABSENT_KINDS = ("substitution", "cancellation", "supervision", "moved", "swap", "special_duty")


@dataclass
class _Line:
    teacher: str
    subject: str
    room: str


@dataclass
class _Unit:
    number: int
    class_name: str
    hours: int
    lines: list[_Line]
    group_names: tuple[str, ...] = ()
    # (day, period, room of each line)
    slots: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)


@dataclass
class _School:
    classes: list[str]
    home_rooms: dict[str, str]
    teachers: list[tuple[str, str, str, int]]  # abbreviation, last name, first name, gender
    subjects_of: dict[str, list[str]]
    rooms: list[tuple[str, str, int | None]]
    units: list[_Unit]


def time_grid() -> list[Period]:
    """The demo school's ten periods, the same on every day."""
    return [Period(number, starts, ends) for number, (starts, ends) in enumerate(TIME_GRID, 1)]


def school_days(start: date, days: int) -> list[date]:
    """The first `days` school days (Monday to Friday) from start on."""
    result, day = [], start
    while len(result) < days:
        if day.isoweekday() in SCHOOL_DAYS:
            result.append(day)
        day += timedelta(days=1)
    return result


def generate_school(
    seed: int,
    classes: int = 20,
    teachers: int = 40,
    start: date = date(2024, 9, 2),
    days: int = 5,
    substitutions_per_day: int = 30,
    encoding: str = "cp1252",
    separator: str = ",",
    named_teachers: Sequence[tuple[str, str]] = (),
) -> dict[str, bytes]:
    """Generate a demo school's GPU files (name -> bytes), substitutions on `days` school days.

    named_teachers (first name, last name) replace the names of the first generated teachers.
    """
    rng = random.Random(seed)
    school = _build_school(rng, classes, teachers, named_teachers)
    _place_timetable(rng, school)
    substitutions, absences = _plan_days(
        rng, school, school_days(start, days), substitutions_per_day
    )
    year_start = date(start.year if start.month >= 8 else start.year - 1, 8, 1)
    tables = {
        "GPU001.TXT": _timetable_rows(school),
        "GPU002.TXT": _course_rows(school, year_start),
        "GPU003.TXT": _class_rows(school),
        "GPU004.TXT": _teacher_rows(school),
        "GPU005.TXT": [
            _row({1: name, 2: long_name, 8: capacity}, 19)
            for name, long_name, capacity in school.rooms
        ],
        "GPU006.TXT": [
            _row({1: name, 2: long_name}, 12) for name, long_name in SUBJECT_NAMES.items()
        ],
        "GPU013.TXT": absences,
        "GPU014.TXT": substitutions,
    }
    return {
        name: "".join(_format(row, separator) + "\r\n" for row in rows).encode(encoding)
        for name, rows in tables.items()
    }


def _class_names(count: int) -> list[str]:
    grades = range(5, 13)
    per_grade = max(1, math.ceil(count / len(grades)))
    names = [f"{grade}{letter}" for grade in grades for letter in "abcdefghijklmnop"[:per_grade]]
    return names[:count]


def _band(class_name: str) -> int:
    grade = int(class_name.rstrip("abcdefghijklmnop"))
    return 0 if grade <= 6 else 1 if grade <= 10 else 2


def _build_school(
    rng: random.Random,
    class_count: int,
    teacher_count: int,
    named_teachers: Sequence[tuple[str, str]] = (),
) -> _School:
    class_names = _class_names(class_count)
    home_rooms = {
        name: f"{'ABC'[index // 30]}{101 + index % 30}" for index, name in enumerate(class_names)
    }
    demand = dict.fromkeys(SUBJECT_NAMES, 0)
    for name in class_names:
        for subjects, hours in CURRICULUM:
            for subject in subjects:
                demand[subject] += hours[_band(name)]
    teachers = _make_teachers(rng, teacher_count, named_teachers)
    subjects_of = _assign_subjects(rng, [abbreviation for abbreviation, *_ in teachers], demand)
    rooms = [(home_rooms[name], f"Klassenraum {name}", 30) for name in class_names]
    for subject, (prefix, long_name) in SPECIAL_ROOMS.items():
        count = max(1, math.ceil(demand[subject] / 25))
        rooms += [
            (f"{prefix}{number}", f"{long_name} {number}", 28) for number in range(1, count + 1)
        ]
    group_demand = sum(demand[subject] for subject in ("RKA", "ETH", "IRU", "L", "S"))
    count = max(2, math.ceil(group_demand / 20))
    rooms += [(f"{GROUP_ROOM[0]}{n}", f"{GROUP_ROOM[1]} {n}", 16) for n in range(1, count + 1)]
    rooms += [(SPARE_ROOM, "Aula", 200), (YARD, "Schulhof", None)]
    return _School(class_names, home_rooms, teachers, subjects_of, rooms, [])


def _make_teachers(
    rng: random.Random, count: int, named: Sequence[tuple[str, str]]
) -> list[tuple[str, str, str, int]]:
    teachers, used = [], set()
    for index in range(count):
        gender = rng.choice((1, 2))
        first = rng.choice(FIRST_NAMES_FEMALE if gender == 1 else FIRST_NAMES_MALE)
        last = rng.choice(LAST_NAMES)
        if index < len(named):
            first, last = named[index]
            gender = 1 if first in FIRST_NAMES_FEMALE else 2
        abbreviation = f"{last[:3]}{first[0]}"
        suffix = 2
        while abbreviation in used:
            abbreviation, suffix = f"{last[:3]}{first[0]}{suffix}", suffix + 1
        used.add(abbreviation)
        teachers.append((abbreviation, last, first, gender))
    return teachers


def _assign_subjects(
    rng: random.Random, teachers: list[str], demand: dict[str, int]
) -> dict[str, list[str]]:
    """Two subjects per teacher, the first drawn in proportion to the hours still uncovered."""
    needed = {subject: hours for subject, hours in demand.items() if hours}
    capacity = 25 * len(teachers) / max(1, sum(needed.values()))
    remaining = {subject: hours * capacity for subject, hours in needed.items()}
    subjects_of = {}
    for teacher in teachers:
        first = rng.choices(list(remaining), weights=[max(v, 0.1) for v in remaining.values()])[0]
        second = rng.choice([subject for subject in needed if subject != first])
        remaining[first] -= 17
        remaining[second] -= 8
        subjects_of[teacher] = [first, second]
    return subjects_of


def _place_timetable(rng: random.Random, school: _School) -> None:
    load = {abbreviation: 0 for abbreviation, *_ in school.teachers}
    teacher_busy: set[tuple[str, int, int]] = set()
    room_busy: set[tuple[str, int, int]] = set()
    rooms_by_prefix: dict[str, list[str]] = {}
    for name, _, _ in school.rooms:
        rooms_by_prefix.setdefault(name.rstrip("0123456789"), []).append(name)
    number = 0
    for class_name in school.classes:
        class_busy: set[tuple[int, int]] = set()
        slots = [(day, period) for period in range(1, PERIODS_PER_DAY + 1) for day in SCHOOL_DAYS]
        for subjects, hours in CURRICULUM:
            weekly = hours[_band(class_name)]
            if not weekly:
                continue
            number += 1
            lines: list[_Line] = []
            for subject in subjects:
                taken = [line.teacher for line in lines]
                teacher = _pick_teacher(rng, school, load, subject, weekly, taken)
                lines.append(_Line(teacher, subject, ""))
            unit = _Unit(number, class_name, weekly, lines, _group_names(subjects, class_name))
            rng.shuffle(slots)
            slots.sort(key=lambda slot: slot[1])
            for _ in range(weekly):
                _place_hour(
                    unit, slots, class_busy, teacher_busy, room_busy, school, rooms_by_prefix
                )
            school.units.append(unit)


def _group_names(subjects: tuple[str, ...], class_name: str) -> tuple[str, ...]:
    if len(subjects) == 1:
        return ("",)
    return tuple(f"{subject}_{class_name}" for subject in subjects)


def _pick_teacher(
    rng: random.Random,
    school: _School,
    load: dict[str, int],
    subject: str,
    hours: int,
    taken: list[str],
) -> str:
    """The least-loaded teacher of the subject (anyone when nobody teaches it)."""
    candidates = [teacher for teacher in load if teacher not in taken]
    qualified = [teacher for teacher in candidates if subject in school.subjects_of[teacher]]
    pool = qualified or candidates
    teacher = min(pool, key=lambda candidate: (load[candidate], rng.random()))
    load[teacher] += hours
    return teacher


def _place_hour(
    unit: _Unit,
    slots: list[tuple[int, int]],
    class_busy: set[tuple[int, int]],
    teacher_busy: set[tuple[str, int, int]],
    room_busy: set[tuple[str, int, int]],
    school: _School,
    rooms_by_prefix: dict[str, list[str]],
) -> None:
    for day, period in slots:
        if (day, period) in class_busy or sum(placed[0] == day for placed in unit.slots) >= 2:
            continue
        if any((line.teacher, day, period) in teacher_busy for line in unit.lines):
            continue
        rooms = _free_rooms(unit, day, period, room_busy, school, rooms_by_prefix)
        if rooms is None:
            continue
        class_busy.add((day, period))
        for line, room in zip(unit.lines, rooms, strict=True):
            teacher_busy.add((line.teacher, day, period))
            room_busy.add((room, day, period))
            line.room = line.room or room
        unit.slots.append((day, period, tuple(rooms)))
        return


def _free_rooms(
    unit: _Unit,
    day: int,
    period: int,
    room_busy: set[tuple[str, int, int]],
    school: _School,
    rooms_by_prefix: dict[str, list[str]],
) -> list[str] | None:
    """A room for each line of the unit in this slot, or None when one cannot get one."""
    chosen: list[str] = []
    for index, line in enumerate(unit.lines):
        if index == 0 and line.subject not in SPECIAL_ROOMS:
            chosen.append(school.home_rooms[unit.class_name])
            continue
        prefix = SPECIAL_ROOMS[line.subject][0] if line.subject in SPECIAL_ROOMS else GROUP_ROOM[0]
        # A unit keeps its room all week when it can; anything free in the pool otherwise.
        pool = ([line.room] if line.room else []) + rooms_by_prefix[prefix]
        free = next(
            (r for r in pool if (r, day, period) not in room_busy and r not in chosen), None
        )
        if free is None:
            return None
        chosen.append(free)
    return chosen


@dataclass
class _DayLesson:
    unit: _Unit
    line: _Line
    period: int
    room: str


def _plan_days(
    rng: random.Random, school: _School, days: list[date], per_day: int
) -> tuple[list[list[object]], list[list[object]]]:
    substitutions: list[list[object]] = []
    absences: list[list[object]] = []
    teachers = [abbreviation for abbreviation, *_ in school.teachers]
    for day in days:
        lessons = [
            _DayLesson(unit, line, period, room)
            for unit in school.units
            for weekday, period, rooms in unit.slots
            if weekday == day.isoweekday()
            for line, room in zip(unit.lines, rooms, strict=True)
        ]
        busy = {(lesson.line.teacher, lesson.period) for lesson in lessons}
        absent = rng.sample(teachers, max(1, len(teachers) * 8 // 100))
        absence_numbers = {}
        for teacher in absent:
            absence_numbers[teacher] = len(absences) + 1
            reason = rng.choice(ABSENCE_REASONS)
            absences.append(
                _row(
                    {
                        1: len(absences) + 1,
                        2: "L",
                        3: teacher,
                        4: day,
                        5: day,
                        6: 1,
                        7: PERIODS_PER_DAY,
                        8: reason,
                    },
                    9,
                )
            )
        first = [lesson for lesson in lessons if lesson.line.teacher in absence_numbers]
        rest = [lesson for lesson in lessons if lesson.line.teacher not in absence_numbers]
        rng.shuffle(first)
        rng.shuffle(rest)
        for lesson in (first + rest)[:per_day]:
            absence = absence_numbers.get(lesson.line.teacher)
            kinds = _ABSENT_KINDS if absence else tuple(KINDS)
            kind = rng.choices(kinds, weights=[KINDS[k][0] for k in kinds])[0]
            row = _substitution_row(
                rng, len(substitutions) + 1, day, lesson, kind, absence, busy, teachers, absent
            )
            substitutions.append(row)
    return substitutions, absences


def _substitution_row(
    rng: random.Random,
    number: int,
    day: date,
    lesson: _DayLesson,
    kind: str,
    absence: int | None,
    busy: set[tuple[str, int]],
    teachers: list[str],
    absent: list[str],
) -> list[object]:
    free = [t for t in teachers if (t, lesson.period) not in busy and t not in absent]
    substitute = ""
    if kind == "exam":
        substitute = lesson.line.teacher
    elif kind in ("substitution", "supervision", "swap", "break_supervision") or (
        kind == "special_duty" and absence
    ):
        if not free:
            kind = "cancellation"
        else:
            substitute = rng.choice(free)
            busy.add((substitute, lesson.period))
    _, letter, bit = KINDS[kind]
    art = (1 << bit if bit is not None else 0) | (1 << NEW_BIT if rng.random() < 0.2 else 0)
    new_room = rng.choice((SPARE_ROOM, f"{GROUP_ROOM[0]}1")) if kind == "room_change" else ""
    classes = "" if kind == "break_supervision" else lesson.unit.class_name
    text = rng.choice(SUBSTITUTION_TEXTS)
    if kind == "moved":
        text = f"verlegt auf {rng.choice(('Mo', 'Di', 'Mi', 'Do', 'Fr'))} {rng.randint(7, 8)}. Std."
    elif kind == "exam":
        text = "Klassenarbeit"
    changed = datetime.combine(day - timedelta(days=1), time(15, 30)) + timedelta(
        minutes=number % 600
    )
    return _row(
        {
            1: number,
            2: day,
            3: lesson.period,
            4: absence,
            5: lesson.unit.number if kind != "break_supervision" else None,
            6: lesson.line.teacher,
            7: substitute,
            8: lesson.line.subject if kind != "break_supervision" else "",
            12: lesson.room if kind != "break_supervision" else "",
            13: YARD if kind == "break_supervision" else new_room,
            15: classes,
            16: "" if absence is None else "Abwesenheit",
            17: text,
            18: art,
            20: letter,
            21: changed,
        },
        22,
    )


def _timetable_rows(school: _School) -> list[list[object]]:
    return [
        _row(
            {
                1: unit.number,
                2: unit.class_name,
                3: line.teacher,
                4: line.subject,
                5: room,
                6: day,
                7: period,
            },
            9,
        )
        for unit in school.units
        for day, period, rooms in sorted(unit.slots)
        for line, room in zip(unit.lines, rooms, strict=True)
    ]


def _course_rows(school: _School, year_start: date) -> list[list[object]]:
    year_end = date(year_start.year + 1, 7, 31)
    return [
        _row(
            {
                1: unit.number,
                2: unit.hours,
                3: unit.hours if index == 0 else 0,
                4: unit.hours,
                5: unit.class_name,
                6: line.teacher,
                7: line.subject,
                8: line.room,
                15: year_start,
                16: year_end,
                42: group,
            },
            47,
        )
        for unit in school.units
        for index, (line, group) in enumerate(zip(unit.lines, unit.group_names, strict=True))
    ]


def _class_rows(school: _School) -> list[list[object]]:
    rows = []
    for name in school.classes:
        # The curriculum starts with German, and the German teacher is the class teacher.
        german = next(unit for unit in school.units if unit.class_name == name)
        rows.append(
            _row(
                {
                    1: name,
                    2: f"Klasse {name}",
                    4: school.home_rooms[name],
                    30: german.lines[0].teacher,
                },
                33,
            )
        )
    return rows


def _teacher_rows(school: _School) -> list[list[object]]:
    return [
        _row({1: abbreviation, 2: last, 29: first, 31: gender, 33: _email(first, last)}, 45)
        for abbreviation, last, first, gender in school.teachers
    ]


def _email(first: str, last: str) -> str:
    name = f"{first}.{last}".lower()
    for umlaut, replacement in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        name = name.replace(umlaut, replacement)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return f"{ascii_name}@schule.example"


def _row(values: dict[int, object], width: int) -> list[object]:
    """A GPU line from {field number: value}, every other field of the width empty."""
    return [values.get(number) for number in range(1, width + 1)]


def _format(row: Iterable[object], separator: str) -> str:
    return separator.join(_format_value(value) for value in row)


def _format_value(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y%m%d%H%M")
    if isinstance(value, date):
        return f'"{value:%Y%m%d}"'
    if isinstance(value, int):
        return str(value)
    text = str(value).replace('"', '""')
    return f'"{text}"'
