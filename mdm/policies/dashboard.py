"""The policies' figure on the dashboard: enrolled devices that could not apply their policy."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mdm.devices.dashboard import DEVICE_LIST
from mdm.devices.models import Device
from mdm.platform.dashboard import Figure, SchoolRef
from mdm.policies.models import DevicePolicyState
from mdm.policies.service import compliance_column

LABEL = {"de": "Nicht regelkonform", "en": "Non-compliant"}


def compliance_figures(
    session: Session, schools: Sequence[SchoolRef], now: datetime
) -> dict[int, list[Figure]]:
    """Enrolled devices of each school that are non-compliant (mdm.policies' compliance)."""
    rows = session.execute(
        select(Device.school_id, func.count())
        .join(DevicePolicyState, DevicePolicyState.device_id == Device.id)
        .where(
            Device.school_id.in_([school.id for school in schools]),
            Device.status == "enrolled",
            compliance_column == "non_compliant",
        )
        .group_by(Device.school_id)
    ).all()
    counts = dict(rows)
    return {
        school.id: [
            Figure(
                "policies.non_compliant",
                LABEL,
                counts.get(school.id, 0),
                20,
                endpoint=DEVICE_LIST,
                args={"school_id": school.id, "compliance": "non_compliant"},
                warn=True,
            )
        ]
        for school in schools
    }
