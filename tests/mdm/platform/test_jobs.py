"""The job registry and run claims: two schedulers never run the same slot twice."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import select

from mdm.extensions import db
from mdm.platform.jobs import (
    JobSpec,
    add_jobs,
    register_job,
    registered_jobs,
    run_claimed,
    run_scheduled,
    slot_of,
)
from mdm.platform.models import JobRun


def test_every_package_job_is_registered(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    with_folder = make_app(TIMETABLE_IMPORT_FOLDER=str(tmp_path))
    assert {spec.id for spec in registered_jobs(with_folder)} == {
        "platform.housekeeping",
        "policies.windows",
        "commands.expire",
        "commands.retention",
        "push.send",
        "schedules.import-folder",
        "calendars.refresh-sources",
        "calendars.prune-event-states",
    }


def test_the_folder_job_is_registered_only_with_a_folder(app: Flask) -> None:
    assert "schedules.import-folder" not in {spec.id for spec in registered_jobs(app)}


def test_registering_twice_is_refused(app: Flask) -> None:
    with pytest.raises(ValueError, match="twice"):
        register_job(app, JobSpec(id="platform.housekeeping", func=lambda: None, seconds=5))


def test_slot_is_the_scheduled_time_even_when_late() -> None:
    spec = JobSpec(id="x", func=lambda: None, seconds=300)
    on_time = datetime(2026, 11, 26, 7, 5, 0, tzinfo=UTC)
    late = datetime(2026, 11, 26, 7, 5, 40, tzinfo=UTC)
    assert slot_of(spec, on_time, 60) == slot_of(spec, late, 60) == "2026-11-26T07:05:00Z"
    daily = JobSpec(id="y", func=lambda: None, cron={"hour": 3, "minute": 17})
    assert slot_of(daily, datetime(2026, 11, 26, 3, 17, 20, tzinfo=UTC), 60) == (
        "2026-11-26T03:17:00Z"
    )


@pytest.mark.committing
@pytest.mark.concurrency
def test_claim_lets_exactly_one_of_many_threads_run(make_app: Callable[..., Flask]) -> None:
    apps = [make_app() for _ in range(4)]
    ran: list[str] = []
    spec = JobSpec(id="test.once", func=lambda: ran.append("x"), seconds=60)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def worker(app: Flask, n: int) -> None:
        barrier.wait()
        results.append(run_claimed(app, spec, "2026-11-26T07:00:00Z", owner=f"host-{n}"))

    threads = [threading.Thread(target=worker, args=(apps[n % 4], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ran == ["x"]
    assert sorted(results) == [False] * 7 + [True]
    with apps[0].app_context():
        runs = db.session.scalars(select(JobRun)).all()
        assert [(r.job_id, r.status) for r in runs] == [("test.once", "done")]


def test_failed_job_is_recorded_and_its_changes_rolled_back(app: Flask) -> None:
    from mdm.accounts.models import School

    def failing() -> None:
        db.session.add(School(slug="half-done", name="Half", timezone="Europe/Berlin"))
        db.session.flush()
        raise RuntimeError("import broke")

    assert run_claimed(app, JobSpec(id="test.fail", func=failing, seconds=60), "s1")
    run = db.session.scalar(select(JobRun))
    assert run.status == "failed" and "import broke" in run.error
    assert db.session.scalar(select(School).where(School.slug == "half-done")) is None


@pytest.mark.committing
@pytest.mark.concurrency
def test_two_schedulers_never_run_the_same_slot_twice(make_app: Callable[..., Flask]) -> None:
    executions: list[str] = []
    spec = JobSpec(id="test.tick", func=lambda: executions.append("ran"), seconds=60)
    schedulers = [make_app(SCHEDULER_GRACE_SECONDS=10) for _ in range(2)]
    slot = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    results: list[bool] = []
    for tick in range(3):
        # Both schedulers fire the same slot at about the same moment, one a little late.
        fired = [slot + timedelta(minutes=tick, seconds=late) for late in (0.2, 0.9)]
        barrier = threading.Barrier(2)

        def fire(app: Flask, now: datetime, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            results.append(run_scheduled(app, spec, now))

        threads = [
            threading.Thread(target=fire, args=(app, now))
            for app, now in zip(schedulers, fired, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with schedulers[0].app_context():
        runs = db.session.scalars(select(JobRun).where(JobRun.job_id == "test.tick")).all()
    assert sorted(run.slot for run in runs) == [
        "2026-11-26T07:00:00Z",
        "2026-11-26T07:01:00Z",
        "2026-11-26T07:02:00Z",
    ]
    assert len(executions) == 3 and sorted(results) == [False] * 3 + [True] * 3


def test_every_registered_job_goes_on_the_scheduler_with_its_grace(app: Flask) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {spec.id for spec in registered_jobs(app)}
    housekeeping = jobs["platform.housekeeping"]
    assert housekeeping.coalesce and housekeeping.max_instances == 1
    assert housekeeping.misfire_grace_time == int(app.config["SCHEDULER_GRACE_SECONDS"])
