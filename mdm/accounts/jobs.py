"""The platform's housekeeping job: expired login revocations and old job runs are forgotten."""

from flask import Flask

from mdm.accounts.login import prune_revoked_tokens
from mdm.extensions import db
from mdm.platform.jobs import JobSpec, prune_job_runs, register_job


def prune_housekeeping() -> None:
    """Forget expired token revocations and job runs older than the retention."""
    prune_revoked_tokens(db.session)
    prune_job_runs(db.session)


def init_app(app: Flask) -> None:
    """Declare the housekeeping job."""
    register_job(
        app,
        JobSpec(
            id="platform.housekeeping", func=prune_housekeeping, cron={"hour": 3, "minute": 17}
        ),
    )
