"""The devices' figures on the dashboard: by status and ownership, and not seen for a week."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mdm.devices.models import Device
from mdm.platform.dashboard import Figure, SchoolRef

NOT_SEEN_DAYS = 7
# The device list of the pages (mdm/devices/pages.py) takes these filters.
DEVICE_LIST = "device_pages.device_list"
LABELS = {
    "devices.enrolled": ({"de": "Geräte eingeschrieben", "en": "Devices enrolled"}, 10),
    "devices.school": ({"de": "davon schuleigen", "en": "of them school-owned"}, 11),
    "devices.byod": ({"de": "davon private (BYOD)", "en": "of them personal (BYOD)"}, 12),
    "devices.retired": ({"de": "Geräte ausgemustert", "en": "Devices retired"}, 13),
    "devices.not_seen": (
        {
            "de": f"Seit {NOT_SEEN_DAYS} Tagen nicht gemeldet",
            "en": f"Not seen for {NOT_SEEN_DAYS} days",
        },
        14,
    ),
}
FILTERS = {
    "devices.enrolled": {"status": "enrolled"},
    "devices.school": {"status": "enrolled", "ownership": "school"},
    "devices.byod": {"status": "enrolled", "ownership": "byod"},
    "devices.retired": {"status": "retired"},
    "devices.not_seen": {"status": "enrolled", "not_seen_days": NOT_SEEN_DAYS},
}


def device_figures(
    session: Session, schools: Sequence[SchoolRef], now: datetime
) -> dict[int, list[Figure]]:
    """Devices of each school by status and ownership, and enrolled ones silent for a week
    (never seen counts from the enrollment)."""
    cutoff = now - timedelta(days=NOT_SEEN_DAYS)
    enrolled = Device.status == "enrolled"
    silent = enrolled & (func.coalesce(Device.last_seen_at, Device.enrolled_at) < cutoff)
    rows = session.execute(
        select(
            Device.school_id,
            func.count(case((enrolled, 1))),
            func.count(case((enrolled & (Device.ownership == "school"), 1))),
            func.count(case((enrolled & (Device.ownership == "byod"), 1))),
            func.count(case((Device.status == "retired", 1))),
            func.count(case((silent, 1))),
        )
        .where(Device.school_id.in_([school.id for school in schools]))
        .group_by(Device.school_id)
    ).all()
    counts = {row[0]: row[1:] for row in rows}
    figures: dict[int, list[Figure]] = {}
    for school in schools:
        values = counts.get(school.id, (0, 0, 0, 0, 0))
        figures[school.id] = [
            Figure(
                key,
                LABELS[key][0],
                value,
                LABELS[key][1],
                endpoint=DEVICE_LIST,
                args={"school_id": school.id, **FILTERS[key]},
                warn=key == "devices.not_seen",
            )
            for key, value in zip(LABELS, values, strict=True)
        ]
    return figures
