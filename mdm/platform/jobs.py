"""Scheduled jobs: a registry each package fills, and runs that claim their (job, slot) first.

Web workers never run the scheduler; `mdm scheduler` does (and `mdm run` in-process). Two
schedulers on two hosts may both fire a job: the unique (job_id, slot) row decides which runs.
"""

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mdm.extensions import db
from mdm.platform.models import JobRun
from mdm.platform.types import utcnow

log = logging.getLogger(__name__)
# Interval slots count from a fixed origin, so every scheduler computes the same slots.
SLOT_ORIGIN = datetime(2020, 1, 1, tzinfo=UTC)
JOB_RUN_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class JobSpec:
    """A job: its id, what it runs (inside an app context), and when."""

    id: str
    func: Callable[[], Any]
    seconds: int | None = None
    cron: dict[str, Any] = field(default_factory=dict)

    def trigger(self) -> BaseTrigger:
        """The APScheduler trigger: an interval aligned to SLOT_ORIGIN, or a cron expression."""
        if self.seconds:
            return IntervalTrigger(seconds=self.seconds, start_date=SLOT_ORIGIN, timezone=UTC)
        return CronTrigger(timezone=UTC, **self.cron)

    def grace(self, configured: int) -> int:
        """How late a run may be and still belong to its slot (less than half an interval)."""
        if self.seconds:
            return max(1, min(configured, self.seconds // 2))
        return configured


def register_job(app: Flask, spec: JobSpec) -> None:
    """Declare a job; `init_app` of each package calls this."""
    if not spec.seconds and not spec.cron:
        raise ValueError(f"job {spec.id} needs seconds or cron")
    registry: dict[str, JobSpec] = app.extensions.setdefault("mdm_jobs", {})
    if spec.id in registry:
        raise ValueError(f"job {spec.id} is registered twice")
    registry[spec.id] = spec


def registered_jobs(app: Flask) -> list[JobSpec]:
    """Every declared job."""
    return list(app.extensions.get("mdm_jobs", {}).values())


def slot_of(spec: JobSpec, now: datetime, grace: int) -> str:
    """The scheduled fire time this run belongs to, as the slot key."""
    fire = spec.trigger().get_next_fire_time(None, now - timedelta(seconds=grace))
    assert fire is not None
    return fire.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def worker_name() -> str:
    """Who claims a run: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(job_id: str, slot: str, owner: str) -> JobRun | None:
    """Insert the (job_id, slot) row and commit; None when another scheduler was first."""
    run = JobRun(job_id=job_id, slot=slot, claimed_by=owner)
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return run


def run_claimed(app: Flask, spec: JobSpec, slot: str, owner: str | None = None) -> bool:
    """Run the job for this slot if this process wins the claim; True when it ran."""
    with app.app_context():
        run = claim(spec.id, slot, owner or worker_name())
        if run is None:
            log.info("job %s slot %s already claimed elsewhere", spec.id, slot)
            return False
        try:
            spec.func()
            db.session.commit()
            run.status = "done"
        except Exception as exc:
            db.session.rollback()
            log.exception("job %s slot %s failed", spec.id, slot)
            run = db.session.get(JobRun, run.id) or run
            run.status = "failed"
            run.error = repr(exc)[:2000]
        run.finished_at = utcnow()
        db.session.commit()
        db.session.remove()
        return True


def run_scheduled(app: Flask, spec: JobSpec, now: datetime | None = None) -> bool:
    """What the scheduler calls: work out the slot of this moment, then claim and run."""
    grace = spec.grace(int(app.config["SCHEDULER_GRACE_SECONDS"]))
    return run_claimed(app, spec, slot_of(spec, now or utcnow(), grace))


def add_jobs(app: Flask, scheduler: BaseScheduler) -> None:
    """Put every registered job on an APScheduler scheduler."""
    configured = int(app.config["SCHEDULER_GRACE_SECONDS"])
    for spec in registered_jobs(app):
        scheduler.add_job(
            run_scheduled,
            trigger=spec.trigger(),
            args=(app, spec),
            id=spec.id,
            name=spec.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=spec.grace(configured),
            replace_existing=True,
        )


def prune_job_runs(session: Session) -> None:
    """Forget job runs older than the retention."""
    session.execute(delete(JobRun).where(JobRun.started_at < utcnow() - JOB_RUN_RETENTION))
