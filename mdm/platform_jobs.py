"""The platform's own housekeeping jobs."""

from datetime import timedelta

from flask import Flask
from sqlalchemy import delete

from mdm.auth import prune_revoked_tokens
from mdm.extensions import db
from mdm.jobs import JobSpec, register_job
from mdm.models import JobRun
from mdm.types import utcnow

JOB_RUN_RETENTION = timedelta(days=30)


def prune_housekeeping() -> None:
    """Forget expired token revocations and job runs older than the retention."""
    prune_revoked_tokens(db.session)
    db.session.execute(delete(JobRun).where(JobRun.started_at < utcnow() - JOB_RUN_RETENTION))


def init_app(app: Flask) -> None:
    """Declare the platform's jobs."""
    register_job(
        app,
        JobSpec(
            id="platform.housekeeping", func=prune_housekeeping, cron={"hour": 3, "minute": 17}
        ),
    )
