"""The school calendar of the policies' time windows (mdm.policies.calendar): school days,
holidays and the periods of the imported time grid."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.policies.windows import Period, SchoolDay
from schedules import panel
from schedules.models import Holiday, TimeSlot


def school_day(session: Session, school_id: int, day: date) -> SchoolDay:
    """A date at a school: a school day unless a weekend or a holiday, with its periods."""
    holiday = session.scalar(
        select(Holiday.id).where(
            Holiday.school_id == school_id, Holiday.from_date <= day, Holiday.to_date >= day
        )
    )
    grid = [
        panel.GridSlot(weekday=row.weekday, period=row.period, starts=row.starts, ends=row.ends)
        for row in session.execute(
            select(TimeSlot.weekday, TimeSlot.period, TimeSlot.starts, TimeSlot.ends).where(
                TimeSlot.school_id == school_id
            )
        )
    ]
    slots = panel.grid_for(day.isoweekday(), grid)
    return SchoolDay(
        day=day,
        school_day=day.isoweekday() <= 5 and holiday is None,
        holiday=holiday is not None,
        periods=tuple(
            Period(number, starts, ends) for number, (starts, ends) in sorted(slots.items())
        ),
    )
