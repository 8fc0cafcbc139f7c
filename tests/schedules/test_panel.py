"""The panel feed computed from plain plan data: school days, selections, changes, hiding."""

from datetime import UTC, date, datetime, time, timedelta

from schedules import panel
from schedules.import_data import (
    BREAK_SUPERVISION,
    CANCELLATION,
    EXAM,
    MOVED,
    RELEASED,
    ROOM_CHANGE,
    SPECIAL_DUTY,
    SUBSTITUTION,
    SUBSTITUTION_KINDS,
    SUPERVISION,
    SWAP,
)

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
FRIDAY = date(2026, 3, 6)
EARLY = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
LATE = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
GRID = [
    panel.GridSlot(None, 1, time(8, 0), time(8, 45)),
    panel.GridSlot(None, 2, time(8, 50), time(9, 35)),
    panel.GridSlot(None, 3, time(9, 55), time(10, 40)),
    panel.GridSlot(None, 4, time(10, 45), time(11, 30)),
    panel.GridSlot(5, 1, time(7, 45), time(8, 30)),
]


def lesson(period: int, subject: str, cls: str, teacher: str, room: str, **kw) -> panel.PlanLesson:
    """A Monday lesson unless told otherwise."""
    kw.setdefault("weekday", 1)
    return panel.PlanLesson(
        period=period,
        subject=subject,
        classes=(cls,),
        teachers=(teacher,),
        rooms=(room,),
        **kw,
    )


def sub(kind: str, period: int, **kw) -> panel.PlanSubstitution:
    """A Monday substitution, changed early unless told otherwise."""
    kw.setdefault("date", MONDAY)
    kw.setdefault("period_to", period)
    kw.setdefault("changed_at", EARLY)
    return panel.PlanSubstitution(kind=kind, period=period, **kw)


LESSONS = [
    lesson(1, "M", "7a", "MUE", "R101", lesson_number=10),
    lesson(2, "D", "7a", "SCH", "R101", lesson_number=11),
    lesson(3, "E", "7a", "BAU", "R102", lesson_number=12),
    lesson(1, "BIO", "5b", "KLE", "R201", lesson_number=20),
    lesson(2, "M", "5b", "MUE", "R201", lesson_number=21),
    lesson(1, "M", "Q1", "WEB", "R301", course="M-LK1", lesson_number=30),
    lesson(1, "E", "Q1", "BAU", "R302", course="E-LK1", lesson_number=31),
    lesson(2, "SPO", "Q1", "KLE", "HALLE", lesson_number=32),
]
SUBS = [
    sub(
        CANCELLATION,
        1,
        lesson_number=10,
        original_subject="M",
        original_teachers=("MUE",),
        original_rooms=("R101",),
        original_classes=("7a",),
        text="fällt aus",
    ),
    sub(
        SUBSTITUTION,
        2,
        lesson_number=21,
        original_subject="M",
        original_teachers=("MUE",),
        original_rooms=("R201",),
        original_classes=("5b",),
        new_subject="M",
        new_teachers=("SCH",),
        new_rooms=("R201",),
        new_classes=("5b",),
        changed_at=LATE,
    ),
    sub(
        ROOM_CHANGE,
        3,
        lesson_number=12,
        original_subject="E",
        original_teachers=("BAU",),
        original_rooms=("R102",),
        original_classes=("7a",),
        new_rooms=("R999",),
    ),
]


def day(
    on: date = MONDAY,
    lessons: list[panel.PlanLesson] | None = None,
    subs: list[panel.PlanSubstitution] | None = None,
    absences: list[panel.PlanAbsence] | None = None,
    messages: list[panel.PlanMessage] | None = None,
) -> panel.SchoolDay:
    return panel.school_day(
        on,
        GRID,
        LESSONS if lessons is None else lessons,
        SUBS if subs is None else subs,
        absences or [],
        messages or [],
    )


def feed(selection: panel.Selection, school_day: panel.SchoolDay | None = None, **kw) -> dict:
    kw.setdefault("since", None)
    kw.setdefault("hide_teachers", False)
    return panel.panel_day(school_day or day(), selection, **kw)


# School days


def test_school_days_start_today_and_skip_the_weekend() -> None:
    assert panel.school_days(FRIDAY, 2, []) == [FRIDAY, date(2026, 3, 9)]


def test_school_days_from_a_saturday_start_on_monday() -> None:
    assert panel.school_days(date(2026, 3, 7), 1, []) == [date(2026, 3, 9)]


def test_school_days_skip_holidays() -> None:
    easter = panel.PlanHoliday(date(2026, 3, 3), date(2026, 3, 13), "Osterferien")
    assert panel.school_days(MONDAY, 3, [easter]) == [MONDAY, date(2026, 3, 16), date(2026, 3, 17)]


def test_school_days_stop_looking_after_the_lookahead() -> None:
    long_break = panel.PlanHoliday(date(2026, 3, 3), date(2026, 12, 31))
    assert panel.school_days(MONDAY, 3, [long_break]) == [MONDAY]


def test_a_one_day_holiday_today() -> None:
    holiday = panel.PlanHoliday(MONDAY, MONDAY, "Brückentag")
    assert panel.school_days(MONDAY, 1, [holiday]) == [TUESDAY]


# Picking the rows of a day


def test_school_day_keeps_only_lessons_of_its_weekday_and_validity() -> None:
    rows = [
        lesson(1, "M", "7a", "MUE", "R1"),
        lesson(2, "D", "7a", "MUE", "R1", weekday=2),
        lesson(3, "E", "7a", "MUE", "R1", valid_from=TUESDAY),
        lesson(4, "K", "7a", "MUE", "R1", valid_to=date(2026, 3, 1)),
        lesson(5, "PH", "7a", "MUE", "R1", valid_from=MONDAY, valid_to=MONDAY),
    ]
    assert [x.subject for x in day(lessons=rows, subs=[]).lessons] == ["M", "PH"]


def test_school_day_keeps_substitutions_absences_and_messages_of_its_date() -> None:
    result = day(
        subs=[*SUBS, sub(CANCELLATION, 1, date=TUESDAY)],
        absences=[
            panel.PlanAbsence("teacher", "MUE", date(2026, 2, 27), MONDAY),
            panel.PlanAbsence("teacher", "SCH", TUESDAY, TUESDAY),
        ],
        messages=[panel.PlanMessage(MONDAY, "Heute"), panel.PlanMessage(TUESDAY, "Morgen")],
    )
    assert len(result.substitutions) == 3
    assert [a.name for a in result.absences] == ["MUE"]
    assert [m.text for m in result.messages] == ["Heute"]


def test_the_time_grid_of_a_weekday_overrides_the_general_one() -> None:
    assert panel.grid_for(5, GRID)[1] == (time(7, 45), time(8, 30))
    assert panel.grid_for(1, GRID)[1] == (time(8, 0), time(8, 45))
    assert panel.grid_for(5, GRID)[2] == (time(8, 50), time(9, 35))


# Class selection


def test_a_class_sees_its_own_changes_only() -> None:
    result = feed(panel.Selection(class_name="7a"))
    assert [c["kind"] for c in result["changes"]] == [CANCELLATION, ROOM_CHANGE]


def test_the_class_name_is_matched_without_regard_to_case() -> None:
    assert len(feed(panel.Selection(class_name="7A"))["changes"]) == 2


def test_a_class_sees_its_day_with_the_changes_applied() -> None:
    lessons = feed(panel.Selection(class_name="7a"))["lessons"]
    assert [(x["period"], x["kind"], x["subject"], x["rooms"]) for x in lessons] == [
        (1, CANCELLATION, "", []),
        (2, None, "D", ["R101"]),
        (3, ROOM_CHANGE, "E", ["R999"]),
    ]
    assert lessons[0]["original"]["subject"] == "M"
    assert lessons[1]["original"] is None


def test_a_room_change_keeps_the_teacher_and_subject_of_the_plan() -> None:
    change = feed(panel.Selection(class_name="7a"))["changes"][1]
    assert change["teachers"] == ["BAU"]
    assert change["subject"] == "E"
    assert change["original"]["rooms"] == ["R102"]


def test_entries_carry_start_and_end_times_from_the_grid() -> None:
    multi = sub(CANCELLATION, 1, period_to=3, original_classes=("7a",), original_subject="K")
    change = feed(panel.Selection(class_name="7a"), day(subs=[multi], lessons=[]))["changes"][0]
    assert (change["period"], change["period_to"]) == (1, 3)
    assert (change["starts"], change["ends"]) == ("08:00", "10:40")


def test_times_are_null_where_the_grid_has_no_period() -> None:
    late = sub(EXAM, 9, original_classes=("7a",), new_classes=("7a",))
    change = feed(panel.Selection(class_name="7a"), day(subs=[late], lessons=[]))["changes"][0]
    assert (change["starts"], change["ends"]) == (None, None)


def test_a_substitution_replacing_no_lesson_is_added_to_the_day() -> None:
    extra = sub(EXAM, 4, new_subject="M", new_classes=("7a",), new_rooms=("AULA",))
    lessons = feed(panel.Selection(class_name="7a"), day(subs=[extra]))["lessons"]
    assert [(x["period"], x["kind"]) for x in lessons] == [
        (1, None),
        (2, None),
        (3, None),
        (4, EXAM),
    ]


def test_a_substitution_over_two_periods_replaces_both_lessons() -> None:
    rows = [lesson(1, "M", "7a", "MUE", "R1", lesson_number=1)]
    rows.append(lesson(2, "M", "7a", "MUE", "R1", lesson_number=1))
    cancel = sub(CANCELLATION, 1, period_to=2, lesson_number=1, original_classes=("7a",))
    lessons = feed(panel.Selection(class_name="7a"), day(lessons=rows, subs=[cancel]))["lessons"]
    assert [(x["period"], x["period_to"], x["kind"]) for x in lessons] == [
        (1, 1, CANCELLATION),
        (2, 2, CANCELLATION),
    ]


def test_without_lesson_numbers_a_change_matches_by_class_and_subject() -> None:
    rows = [lesson(1, "M", "7a", "MUE", "R1"), lesson(1, "REL", "7a", "KLE", "R2")]
    cancel = sub(CANCELLATION, 1, original_subject="REL", original_classes=("7a",))
    lessons = feed(panel.Selection(class_name="7a"), day(lessons=rows, subs=[cancel]))["lessons"]
    assert sorted((x["original"] or {}).get("subject", x["subject"]) for x in lessons) == [
        "M",
        "REL",
    ]
    assert [x["kind"] for x in lessons if x["subject"] == "M"] == [None]


def test_a_class_with_courses_sees_only_its_courses_and_the_whole_class_lessons() -> None:
    lessons = feed(panel.Selection(class_name="Q1", courses=frozenset({"m-lk1"})))["lessons"]
    assert [x["subject"] for x in lessons] == ["M", "SPO"]


def test_a_class_without_chosen_courses_sees_every_course() -> None:
    lessons = feed(panel.Selection(class_name="Q1"))["lessons"]
    assert sorted(x["subject"] for x in lessons) == ["E", "M", "SPO"]


def test_courses_alone_select_their_lessons_and_changes() -> None:
    cancel = sub(CANCELLATION, 1, course="E-LK1", original_classes=("Q1",), lesson_number=31)
    result = feed(panel.Selection(courses=frozenset({"E-LK1"})), day(subs=[cancel]))
    assert [x["subject"] for x in result["lessons"]] == [""]
    assert [x["course"] for x in result["changes"]] == ["E-LK1"]


def test_changes_of_other_courses_are_not_shown() -> None:
    cancel = sub(CANCELLATION, 1, course="E-LK1", original_classes=("Q1",))
    selection = panel.Selection(class_name="Q1", courses=frozenset({"M-LK1"}))
    assert feed(selection, day(subs=[cancel]))["changes"] == []


# Teacher and room selections


def test_a_teacher_sees_where_they_substitute_first_then_where_they_were_replaced() -> None:
    replaced = sub(
        CANCELLATION, 1, original_teachers=("SCH",), original_classes=("7a",), lesson_number=11
    )
    result = feed(panel.Selection(teacher="SCH"), day(subs=[replaced, *SUBS]))
    assert [(c["period"], c["kind"]) for c in result["changes"]] == [
        (2, SUBSTITUTION),
        (1, CANCELLATION),
    ]


def test_a_teacher_sees_their_day_with_the_lesson_they_cover() -> None:
    lessons = feed(panel.Selection(teacher="SCH"))["lessons"]
    assert [(x["period"], x["kind"], x["classes"]) for x in lessons] == [
        (2, None, ["7a"]),
        (2, SUBSTITUTION, ["5b"]),
    ]


def test_the_replaced_teacher_sees_the_substitute_in_their_lesson() -> None:
    lessons = feed(panel.Selection(teacher="MUE"))["lessons"]
    assert [(x["period"], x["kind"], x["teachers"]) for x in lessons] == [
        (1, CANCELLATION, []),
        (2, SUBSTITUTION, ["SCH"]),
    ]


def test_a_room_sees_the_changes_into_and_out_of_it() -> None:
    assert [c["kind"] for c in feed(panel.Selection(room="R999"))["changes"]] == [ROOM_CHANGE]
    assert [c["kind"] for c in feed(panel.Selection(room="R102"))["changes"]] == [ROOM_CHANGE]
    assert [x["subject"] for x in feed(panel.Selection(room="R201"))["lessons"]] == ["BIO", "M"]


def test_everything_lists_all_changes_by_class_without_the_lessons() -> None:
    result = feed(panel.Selection())
    assert [c["classes"] for c in result["changes"]] == [["5b"], ["7a"], ["7a"]]
    assert result["lessons"] == []


def test_selection_kinds() -> None:
    assert panel.Selection(class_name="7a", courses=frozenset({"x"})).kind == "class"
    assert panel.Selection(courses=frozenset({"x"})).kind == "courses"
    assert panel.Selection(teacher="MUE").kind == "teacher"
    assert panel.Selection(room="R1").kind == "room"
    assert panel.Selection().kind == "all"


# Types and colours


def test_every_kind_has_a_colour() -> None:
    assert set(panel.COLOURS) == SUBSTITUTION_KINDS


def test_colours_by_kind() -> None:
    assert panel.COLOURS[CANCELLATION] == "red"
    assert panel.COLOURS[SUBSTITUTION] == "blue"
    assert panel.COLOURS[ROOM_CHANGE] == "green"
    assert panel.COLOURS[SWAP] == panel.COLOURS[MOVED] == "yellow"
    assert panel.COLOURS[EXAM] == "orange"
    assert panel.COLOURS[SUPERVISION] == panel.COLOURS[BREAK_SUPERVISION] == "grey"
    assert panel.COLOURS[SPECIAL_DUTY] not in ("red", "blue", "green", "yellow", "orange")
    assert panel.COLOURS[RELEASED] not in ("red", "blue", "green", "yellow", "orange")


def test_entries_carry_kind_and_colour() -> None:
    change = feed(panel.Selection(class_name="5b"))["changes"][0]
    assert (change["kind"], change["colour"]) == (SUBSTITUTION, "blue")


def test_an_unknown_kind_is_grey() -> None:
    odd = sub("something", 1, original_classes=("7a",))
    change = feed(panel.Selection(class_name="7a"), day(subs=[odd]))["changes"][0]
    assert change["colour"] == "grey"


def test_a_cancellation_shows_nothing_new_but_what_the_plan_said() -> None:
    change = feed(panel.Selection(class_name="7a"))["changes"][0]
    assert (change["subject"], change["teachers"], change["rooms"]) == ("", [], [])
    assert change["original"] == {
        "subject": "M",
        "teachers": ["MUE"],
        "rooms": ["R101"],
        "classes": ["7a"],
    }
    assert change["text"] == "fällt aus"


# Changed since


def test_changed_marks_entries_changed_after_since() -> None:
    since = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    result = feed(panel.Selection(), since=since)
    assert {c["kind"]: c["changed"] for c in result["changes"]} == {
        SUBSTITUTION: True,
        CANCELLATION: False,
        ROOM_CHANGE: False,
    }


def test_without_since_nothing_is_marked() -> None:
    assert not any(c["changed"] for c in feed(panel.Selection())["changes"])


def test_the_changed_marker_is_on_the_day_lessons_too() -> None:
    since = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    lessons = feed(panel.Selection(class_name="5b"), since=since)["lessons"]
    assert [(x["subject"], x["changed"]) for x in lessons] == [("BIO", False), ("M", True)]


# Messages and absences


def test_day_messages_for_everybody_and_for_the_selected_class() -> None:
    messages = [
        panel.PlanMessage(MONDAY, "Wandertag der 5b", "5b"),
        panel.PlanMessage(MONDAY, "Schulkonzert"),
        panel.PlanMessage(MONDAY, "7a bitte ins Sekretariat", "7a, 7b"),
    ]
    school_day = day(messages=messages)
    assert feed(panel.Selection(class_name="7a"), school_day)["messages"] == [
        "Schulkonzert",
        "7a bitte ins Sekretariat",
    ]
    assert feed(panel.Selection(teacher="MUE"), school_day)["messages"] == ["Schulkonzert"]
    # "Everything" (the public panel link, an admin's overview) gets only the messages for all.
    assert feed(panel.Selection(), school_day)["messages"] == ["Schulkonzert"]


def test_day_messages_for_a_teacher_reach_no_one_else() -> None:
    messages = [
        panel.PlanMessage(MONDAY, "Schulkonzert"),
        panel.PlanMessage(MONDAY, "Herr Müller bitte zur Schulleitung", "MUE"),
    ]
    school_day = day(messages=messages)
    for selection in (
        panel.Selection(),
        panel.Selection(class_name="7a"),
        panel.Selection(class_name="7a", courses=frozenset({"Ma1"})),
        panel.Selection(courses=frozenset({"Ma1"})),
        panel.Selection(room="R101"),
        panel.Selection(teacher="SCH"),
    ):
        assert feed(selection, school_day)["messages"] == ["Schulkonzert"], selection
    assert feed(panel.Selection(teacher="MUE"), school_day)["messages"] == [
        "Schulkonzert",
        "Herr Müller bitte zur Schulleitung",
    ]


def test_day_messages_for_a_teacher() -> None:
    school_day = day(messages=[panel.PlanMessage(MONDAY, "Konferenz", "MUE")])
    assert feed(panel.Selection(teacher="mue"), school_day)["messages"] == ["Konferenz"]


def test_absences_of_the_day() -> None:
    absences = [
        panel.PlanAbsence("teacher", "MUE", MONDAY, MONDAY, 1, 2, "krank"),
        panel.PlanAbsence("class", "9b", MONDAY, TUESDAY),
    ]
    result = feed(panel.Selection(class_name="7a"), day(absences=absences))
    assert result["absences"] == [
        {"kind": "teacher", "name": "MUE", "first_period": 1, "last_period": 2, "text": "krank"},
        {"kind": "class", "name": "9b", "first_period": None, "last_period": None, "text": ""},
    ]


# Hiding teacher names


def test_hidden_teachers_are_null_everywhere() -> None:
    result = feed(panel.Selection(class_name="5b"), hide_teachers=True)
    for entry in (*result["changes"], *result["lessons"]):
        assert entry["teachers"] is None
        if entry["original"]:
            assert entry["original"]["teachers"] is None


def test_hidden_teachers_drop_teacher_absences() -> None:
    absences = [
        panel.PlanAbsence("teacher", "MUE", MONDAY, MONDAY),
        panel.PlanAbsence("class", "9b", MONDAY, MONDAY),
    ]
    result = feed(panel.Selection(), day(absences=absences), hide_teachers=True)
    assert [a["name"] for a in result["absences"]] == ["9b"]


# Several days and subject names


def test_panel_days_returns_one_entry_per_day_in_order() -> None:
    days = [day(MONDAY), day(TUESDAY, subs=[])]
    result = panel.panel_days(
        days, panel.Selection(class_name="7a"), since=None, hide_teachers=False
    )
    assert [d["date"] for d in result] == [MONDAY, TUESDAY]
    assert result[1]["lessons"] == []


def test_used_subjects_names_only_the_subjects_shown() -> None:
    result = [feed(panel.Selection(class_name="7a"))]
    names = {"M": "Mathematik", "D": "Deutsch", "BIO": "Biologie"}
    assert panel.used_subjects(result, names) == {"M": "Mathematik", "D": "Deutsch"}


def test_everything_is_ordered_by_class_naturally() -> None:
    subs = [
        sub(CANCELLATION, 1, original_classes=("10a",)),
        sub(CANCELLATION, 2, original_classes=("5b",)),
        sub(CANCELLATION, 1, original_classes=("5b",)),
    ]
    changes = feed(panel.Selection(), day(subs=subs))["changes"]
    assert [(c["classes"], c["period"]) for c in changes] == [
        (["5b"], 1),
        (["5b"], 2),
        (["10a"], 1),
    ]


def test_since_values_between_the_same_change_times_share_a_rank() -> None:
    times = [EARLY, LATE]
    assert panel.since_rank(times, None) is None
    assert panel.since_rank(times, datetime(2026, 1, 1, tzinfo=UTC)) == 0
    assert panel.since_rank(times, EARLY) == panel.since_rank(times, LATE - timedelta(hours=1))
    assert panel.since_rank(times, LATE) == 2


# Parallel lessons under one lesson number (Untis couplings)

RELIGION = [
    lesson(2, "REV", "5a", "FRA", "A101", lesson_number=2, course="REV_5a"),
    lesson(2, "RKA", "5a", "SCF", "GR1", lesson_number=2, course="RKA_5a"),
    lesson(2, "ETH", "5a", "PFE", "GR2", lesson_number=2, course="ETH_5a"),
    lesson(2, "IRU", "5a", "ENG", "GR3", lesson_number=2, course="IRU_5a"),
]
IRU_CANCELLED = sub(
    CANCELLATION,
    2,
    lesson_number=2,
    original_subject="IRU",
    original_teachers=("ENG",),
    original_rooms=("GR3",),
    original_classes=("5a",),
)


def _shown(entries: list[dict]) -> list[tuple[str, str | None]]:
    return sorted(
        ((x["original"] or {}).get("subject") or x["subject"], x["kind"]) for x in entries
    )


def test_a_cancelled_parallel_lesson_leaves_the_others_of_its_number_in_place() -> None:
    result = feed(panel.Selection(class_name="5a"), day(lessons=RELIGION, subs=[IRU_CANCELLED]))
    assert _shown(result["lessons"]) == [
        ("ETH", None),
        ("IRU", CANCELLATION),
        ("REV", None),
        ("RKA", None),
    ]
    assert len(result["changes"]) == 1


def test_a_course_selection_sees_its_own_parallel_lesson_and_not_the_others_changes() -> None:
    selection = panel.Selection(class_name="5a", courses=frozenset({"ETH_5a"}))
    result = feed(selection, day(lessons=RELIGION, subs=[IRU_CANCELLED]))
    assert _shown(result["lessons"]) == [("ETH", None)]
    assert result["changes"] == []
    islam = panel.Selection(class_name="5a", courses=frozenset({"IRU_5a"}))
    assert _shown(feed(islam, day(lessons=RELIGION, subs=[IRU_CANCELLED]))["lessons"]) == [
        ("IRU", CANCELLATION)
    ]


def test_a_change_without_a_course_takes_the_course_of_the_lesson_it_changes() -> None:
    only_courses = panel.Selection(courses=frozenset({"IRU_5a"}))
    result = feed(only_courses, day(lessons=RELIGION, subs=[IRU_CANCELLED]))
    assert [(c["kind"], c["course"]) for c in result["changes"]] == [(CANCELLATION, "IRU_5a")]


def test_the_teacher_of_the_cancelled_parallel_lesson_sees_it_once() -> None:
    result = feed(panel.Selection(teacher="ENG"), day(lessons=RELIGION, subs=[IRU_CANCELLED]))
    assert _shown(result["lessons"]) == [("IRU", CANCELLATION)]
    assert len(result["changes"]) == 1
    assert _shown(feed(panel.Selection(teacher="PFE"), day(lessons=RELIGION))["lessons"]) == [
        ("ETH", None)
    ]


def test_a_split_class_changes_only_the_line_of_the_absent_teacher() -> None:
    # Sport for 5a and 5b together, split in two groups: one number, same subject.
    rows = [
        panel.PlanLesson(1, 3, "SP", ("5a", "5b"), ("KLE",), ("TH1",), lesson_number=7),
        panel.PlanLesson(1, 3, "SP", ("5a", "5b"), ("BRA",), ("TH2",), lesson_number=7),
    ]
    covered = sub(
        SUBSTITUTION,
        3,
        lesson_number=7,
        original_subject="SP",
        original_teachers=("BRA",),
        original_rooms=("TH2",),
        original_classes=("5a", "5b"),
        new_subject="SP",
        new_teachers=("WEB",),
        new_rooms=("TH2",),
        new_classes=("5a", "5b"),
    )
    for name in ("5a", "5b"):
        lessons = feed(panel.Selection(class_name=name), day(lessons=rows, subs=[covered]))
        assert sorted((x["teachers"][0], x["kind"]) for x in lessons["lessons"]) == [
            ("KLE", None),
            ("WEB", SUBSTITUTION),
        ]
    kle = feed(panel.Selection(teacher="KLE"), day(lessons=rows, subs=[covered]))
    assert [x["kind"] for x in kle["lessons"]] == [None]


def test_a_change_naming_no_line_exactly_changes_one_lesson_and_appears_once() -> None:
    # Two lines that the change names equally well: it changes one of them, not both.
    rows = [
        lesson(1, "D", "7a", "MUE", "R1", lesson_number=5),
        lesson(1, "D", "7a", "SCH", "R2", lesson_number=5),
    ]
    cancel = sub(CANCELLATION, 1, lesson_number=5, original_classes=("7a",))
    lessons = feed(panel.Selection(class_name="7a"), day(lessons=rows, subs=[cancel]))["lessons"]
    assert sorted(x["kind"] or "" for x in lessons) == ["", CANCELLATION]


def test_rooms_tell_apart_lines_that_agree_on_everything_else() -> None:
    rows = [
        panel.PlanLesson(1, 1, "INF", ("7a",), ("MUE",), ("PC1",), lesson_number=9),
        panel.PlanLesson(1, 1, "INF", ("7a",), ("MUE",), ("PC2",), lesson_number=9, course="x"),
    ]
    moved = sub(
        ROOM_CHANGE,
        1,
        lesson_number=9,
        original_subject="INF",
        original_teachers=("MUE",),
        original_rooms=("PC2",),
        original_classes=("7a",),
        new_rooms=("PC3",),
    )
    lessons = feed(panel.Selection(class_name="7a"), day(lessons=rows, subs=[moved]))["lessons"]
    assert sorted((x["rooms"][0], x["kind"] or "") for x in lessons) == [
        ("PC1", ""),
        ("PC3", ROOM_CHANGE),
    ]
