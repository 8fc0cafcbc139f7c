"""The timetable's figures on the admin dashboard (registered with mdm, which never imports
schedules): the last applied import and today's number of substitutions."""

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mdm.platform.dashboard import Figure, SchoolRef
from schedules.models import Substitution, TimetableImport

# The timetable pages' import history (schedules' admin pages) lists the imports.
IMPORT_HISTORY = "timetable_pages.import_history"
LABELS = {
    "timetable.last_import": {"de": "Letzter Stundenplan-Import", "en": "Last timetable import"},
    "timetable.substitutions_today": {"de": "Vertretungen heute", "en": "Substitutions today"},
}


def timetable_figures(
    session: Session, schools: Sequence[SchoolRef], now: datetime
) -> dict[int, list[Figure]]:
    """Per school: when its last import was applied, and its substitutions of today (in the
    school's time zone)."""
    ids = [school.id for school in schools]
    last = dict(
        session.execute(
            select(TimetableImport.school_id, func.max(TimetableImport.created_at))
            .where(TimetableImport.school_id.in_(ids), TimetableImport.status == "applied")
            .group_by(TimetableImport.school_id)
        ).all()
    )
    today = {school.id: now.astimezone(ZoneInfo(school.timezone)).date() for school in schools}
    days = sorted(set(today.values()))
    counted = session.execute(
        select(Substitution.school_id, Substitution.date, func.count())
        .where(Substitution.school_id.in_(ids), Substitution.date.in_(days))
        .group_by(Substitution.school_id, Substitution.date)
    ).all()
    substitutions = {
        school_id: count for school_id, day, count in counted if today.get(school_id) == day
    }
    return {
        school.id: [
            Figure(
                "timetable.last_import",
                LABELS["timetable.last_import"],
                last.get(school.id),
                40,
                endpoint=IMPORT_HISTORY,
                args={"school_id": school.id},
                summable=False,
            ),
            Figure(
                "timetable.substitutions_today",
                LABELS["timetable.substitutions_today"],
                substitutions.get(school.id, 0),
                41,
            ),
        ]
        for school in schools
    }
