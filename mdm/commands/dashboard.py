"""The commands' figures on the dashboard: commands still on their way, and failed ones."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mdm.commands.models import OPEN_STATUSES, Command
from mdm.devices.dashboard import DEVICE_LIST
from mdm.platform.dashboard import Figure, SchoolRef

FAILED_DAYS = 7
LABELS = {
    "commands.pending": {"de": "Befehle unterwegs", "en": "Commands pending"},
    "commands.failed": {
        "de": f"Befehle fehlgeschlagen ({FAILED_DAYS} Tage)",
        "en": f"Commands failed (last {FAILED_DAYS} days)",
    },
}


def command_figures(
    session: Session, schools: Sequence[SchoolRef], now: datetime
) -> dict[int, list[Figure]]:
    """Per school: commands queued, sent or "not now" (pending), and commands that ended in an
    error in the last week."""
    failed = (Command.status == "error") & (
        Command.finished_at >= now - timedelta(days=FAILED_DAYS)
    )
    rows = session.execute(
        select(
            Command.school_id,
            func.count(case((Command.status.in_(OPEN_STATUSES), 1))),
            func.count(case((failed, 1))),
        )
        .where(
            Command.school_id.in_([school.id for school in schools]),
            Command.status.in_((*OPEN_STATUSES, "error")),
        )
        .group_by(Command.school_id)
    ).all()
    counts = {row[0]: (row[1], row[2]) for row in rows}
    figures: dict[int, list[Figure]] = {}
    for school in schools:
        pending, failures = counts.get(school.id, (0, 0))
        figures[school.id] = [
            Figure(
                "commands.pending",
                LABELS["commands.pending"],
                pending,
                30,
                endpoint=DEVICE_LIST,
                args={"school_id": school.id, "command_status": "pending"},
            ),
            Figure(
                "commands.failed",
                LABELS["commands.failed"],
                failures,
                31,
                endpoint=DEVICE_LIST,
                args={"school_id": school.id, "command_status": "error"},
                warn=True,
            ),
        ]
    return figures
