"""Time windows: weekly days and times, the school's periods and breaks, never on holidays."""

from datetime import UTC, date, datetime, time

import pytest

from mdm.policies.windows import Period, SchoolDay, local_moment, window_open, windows_open

MONDAY = date(2026, 12, 7)
SATURDAY = date(2026, 12, 12)
PERIODS = (
    Period(1, time(8, 0), time(8, 45)),
    Period(2, time(8, 50), time(9, 35)),
    Period(3, time(9, 55), time(10, 40)),
)
SCHOOL_DAY = SchoolDay(MONDAY, school_day=True, periods=PERIODS)
HOLIDAY = SchoolDay(MONDAY, school_day=False, holiday=True, periods=PERIODS)
WEEKLY = {"kind": "weekly", "days": ["mon", "tue"], "start": "08:00", "end": "13:00"}


@pytest.mark.parametrize(
    ("moment", "expected"),
    [(time(7, 59), False), (time(8, 0), True), (time(12, 59, 59), True), (time(13, 0), False)],
)
def test_weekly_window(moment: time, expected: bool) -> None:
    assert window_open(WEEKLY, SCHOOL_DAY, moment) is expected


def test_weekly_window_on_other_days_and_holidays() -> None:
    assert not window_open(WEEKLY, SchoolDay(SATURDAY, school_day=False), time(9))
    assert window_open(WEEKLY, HOLIDAY, time(9))
    assert not window_open({**WEEKLY, "except_holidays": True}, HOLIDAY, time(9))
    whole_day = {"kind": "weekly", "days": ["mon"], "start": "20:00", "end": "24:00"}
    assert window_open(whole_day, SCHOOL_DAY, time(23, 59, 59))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (time(7, 59), False),
        (time(8, 10), True),
        (time(8, 47), False),  # the break between periods 1 and 2
        (time(9, 0), True),
        (time(9, 40), False),  # the long break
        (time(10, 0), False),  # period 3 is not in 1-2
    ],
)
def test_periods_window(moment: time, expected: bool) -> None:
    window = {"kind": "periods", "first_period": 1, "last_period": 2}
    assert window_open(window, SCHOOL_DAY, moment) is expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [(time(8, 46), True), (time(9, 40), True), (time(9, 0), False), (time(10, 45), False)],
)
def test_breaks_window(moment: time, expected: bool) -> None:
    assert window_open({"kind": "breaks"}, SCHOOL_DAY, moment) is expected


def test_periods_and_breaks_never_open_on_holidays_or_without_a_time_grid() -> None:
    for window in ({"kind": "periods"}, {"kind": "breaks"}):
        assert not window_open(window, HOLIDAY, time(8, 10))
        assert not window_open(window, HOLIDAY, time(8, 46))
        assert not window_open(window, SchoolDay(MONDAY, school_day=True), time(8, 10))


def test_no_windows_means_always_any_window_opens() -> None:
    assert windows_open([], HOLIDAY, time(3))
    assert windows_open([{"kind": "breaks"}, WEEKLY], SCHOOL_DAY, time(12))


def test_local_moment_is_in_the_schools_time_zone() -> None:
    # 07:30 UTC in December is 08:30 in Berlin.
    local = local_moment(datetime(2026, 12, 7, 7, 30, tzinfo=UTC), "Europe/Berlin")
    assert (local.hour, local.minute) == (8, 30)
