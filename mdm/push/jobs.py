"""The push job: take the due wake-ups, send them without holding a transaction, record what
became of them."""

from flask import current_app

from mdm.extensions import db
from mdm.platform.types import utcnow
from mdm.push import gateway, service


def send_wakeups() -> dict[str, int]:
    """One run of the push job (a boundary: it commits)."""
    taken = service.take_due(db.session, utcnow(), int(current_app.config["PUSH_BATCH_SIZE"]))
    db.session.commit()
    if not taken.wakeups:
        return {}
    outcomes = gateway.deliver(taken.schools, taken.wakeups, service.backends())
    counts = service.record_outcomes(db.session, taken, outcomes, utcnow())
    db.session.commit()
    return counts
