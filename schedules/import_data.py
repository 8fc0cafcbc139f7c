"""Plain data every timetable importer produces, in the school's words.

The importers (Untis GPU, Untis HTML, Indiware) are pure: bytes in, these dataclasses out. The
import service maps them onto the database; nothing here knows about Flask or sessions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

CANCELLATION = "cancellation"
SUBSTITUTION = "substitution"
ROOM_CHANGE = "room_change"
SWAP = "swap"
MOVED = "moved"
SUPERVISION = "supervision"
BREAK_SUPERVISION = "break_supervision"
EXAM = "exam"
SPECIAL_DUTY = "special_duty"
RELEASED = "released"

SUBSTITUTION_KINDS = frozenset(
    {
        CANCELLATION,
        SUBSTITUTION,
        ROOM_CHANGE,
        SWAP,
        MOVED,
        SUPERVISION,
        BREAK_SUPERVISION,
        EXAM,
        SPECIAL_DUTY,
        RELEASED,
    }
)

ABSENT_TEACHER = "teacher"
ABSENT_CLASS = "class"
ABSENT_ROOM = "room"

# Flags a substitution may carry besides its kind. The GPU014 Art bits use the first group,
# Indiware's change markers the second.
FLAG_CANCELLED = "cancelled"
FLAG_SUPERVISION = "supervision"
FLAG_SPECIAL_DUTY = "special_duty"
FLAG_MOVED_AWAY = "moved_away"
FLAG_TEACHER_FREED = "teacher_freed"
FLAG_PLUS_AS_SUBSTITUTE = "plus_as_substitute"
FLAG_PARTIAL = "partial"
FLAG_MOVED_IN = "moved_in"
FLAG_ROOM_SUBSTITUTION = "room_substitution"
FLAG_BREAK_SUPERVISION = "break_supervision"
FLAG_LESSON_FREE = "lesson_free"
FLAG_DO_NOT_PRINT = "do_not_print"
FLAG_NEW = "new"
FLAG_TEACHER_SWAP = "teacher_swap"
FLAG_SUBJECT_CHANGED = "subject_changed"
FLAG_TEACHER_CHANGED = "teacher_changed"
FLAG_ROOM_CHANGED = "room_changed"

# Bounds every importer keeps numbers in: a school day has at most MAX_PERIOD periods, and
# lesson numbers, capacities and the like fit the database's 32-bit integer columns.
MAX_PERIOD = 30
MAX_NUMBER = 2**31 - 1


@dataclass(frozen=True)
class SchoolClass:
    """A class (Klasse), e.g. 5a, with its long name, class teacher and home room."""

    name: str
    long_name: str = ""
    teacher: str = ""
    room: str = ""


@dataclass(frozen=True)
class Teacher:
    """A teacher, known in the timetable by the abbreviation (Kürzel)."""

    abbreviation: str
    last_name: str = ""
    first_name: str = ""
    title: str = ""
    email: str = ""


@dataclass(frozen=True)
class Room:
    """A room, with its long name and capacity when the export has one."""

    name: str
    long_name: str = ""
    capacity: int | None = None


@dataclass(frozen=True)
class Subject:
    """A subject (Fach), e.g. M / Mathematik."""

    name: str
    long_name: str = ""


@dataclass(frozen=True)
class Period:
    """One period of the time grid; weekday None means the same on every day."""

    number: int
    starts: time
    ends: time
    weekday: int | None = None


@dataclass(frozen=True)
class Course:
    """One line of an Untis lesson (GPU002 Unterricht): who teaches what to which classes."""

    lesson_number: int
    subject: str
    teacher: str = ""
    classes: tuple[str, ...] = ()
    room: str = ""
    name: str = ""
    week_type: str = ""
    hours_per_week: float | None = None
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Lesson:
    """A lesson in the weekly plan, or on one date when valid_from == valid_to (Indiware)."""

    lesson_number: int | None
    weekday: int
    period: int
    subject: str
    classes: tuple[str, ...] = ()
    teachers: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_to: date | None = None
    course: str = ""
    week_type: str = ""
    text: str = ""


@dataclass(frozen=True)
class Substitution:
    """A dated change to the plan; kind is one of SUBSTITUTION_KINDS.

    period..period_to is the range of periods; for a break supervision period is the period the
    break comes before. original_* is what the plan said, new_* what happens instead, spelled out
    in full even where unchanged; all new_* are empty when nothing happens (cancelled, released).
    """

    external_id: str
    date: date
    period: int
    period_to: int
    kind: str
    lesson_number: int | None = None
    original_subject: str = ""
    original_teachers: tuple[str, ...] = ()
    original_rooms: tuple[str, ...] = ()
    original_classes: tuple[str, ...] = ()
    new_subject: str = ""
    new_teachers: tuple[str, ...] = ()
    new_rooms: tuple[str, ...] = ()
    new_classes: tuple[str, ...] = ()
    course: str = ""
    text: str = ""
    reason: str = ""
    flags: frozenset[str] = frozenset()
    last_change: datetime | None = None


@dataclass(frozen=True)
class Absence:
    """An absent teacher, class or room (kind ABSENT_*); periods None mean the whole day."""

    kind: str
    name: str
    from_date: date
    to_date: date
    first_period: int | None = None
    last_period: int | None = None
    reason: str = ""
    text: str = ""
    external_id: str = ""


@dataclass(frozen=True)
class DayMessage:
    """A message for a day; audience names the class or teacher it is for, empty for all."""

    date: date
    text: str
    audience: str = ""


@dataclass(frozen=True)
class ParseWarning:
    """Something an importer skipped or guessed; line is 1-based, None when not line-bound."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass
class ImportBatch:
    """Everything one import produced, and what of the school's plan it is authoritative for.

    An import replaces a kind of data only where the export carries that kind (see
    docs/timetable-import.md):

    - covered_dates: days whose substitutions the export lists completely: substitutions on those
      days that are not in the batch are gone;
    - partial_dates: days the export has entries for but does not list completely (one page of a
      chain of Untis HTML pages whose other pages are missing): its entries are added or
      updated, nothing of those days is removed;
    - absence_dates, message_dates: days whose absences (day messages) the export lists
      completely, only where it carries absences (messages) at all;
    - weekly_plan: the export holds a complete weekly timetable (GPU001), which replaces every
      weekly lesson; dated lessons (Indiware) are replaced on covered_dates;
    - master data (classes, teachers, rooms, subjects, courses, the time grid): each kind only
      when the export has it; holidays when it names some.

    missing_pages names the pages of an incomplete chain that the export lacks.
    """

    source: str
    classes: list[SchoolClass] = field(default_factory=list)
    teachers: list[Teacher] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    subjects: list[Subject] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    lessons: list[Lesson] = field(default_factory=list)
    substitutions: list[Substitution] = field(default_factory=list)
    absences: list[Absence] = field(default_factory=list)
    day_messages: list[DayMessage] = field(default_factory=list)
    holidays: set[date] = field(default_factory=set)
    covered_dates: set[date] = field(default_factory=set)
    partial_dates: set[date] = field(default_factory=set)
    absence_dates: set[date] = field(default_factory=set)
    message_dates: set[date] = field(default_factory=set)
    weekly_plan: bool = False
    missing_pages: list[str] = field(default_factory=list)
    # The export's own time stamp, naive school-local time as the file states it.
    generated_at: datetime | None = None
    warnings: list[ParseWarning] = field(default_factory=list)


class ImportFormatError(ValueError):
    """The input is unreadable or not the format it was given as."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")
