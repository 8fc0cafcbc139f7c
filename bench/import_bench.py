"""Import speed and memory: a large school's Untis GPU export, parsed and applied in one
transaction.

    python bench/import_bench.py [--database sqlite|postgresql+psycopg://...] [--runs 5]

The school: 60 classes, 120 teachers, about 3,000 GPU001 rows, 400 substitutions a day for five
days (schedules/demo_gpu.py). Each run imports it into a new school (first import) and then the
same files again (re-import, which must change nothing). Prints the medians against the 2 s
target as a markdown table, and the peak memory of one first import, measured in a process of
its own (the peak of what Python allocates during the import, tracemalloc). The huge school
(--huge): the same school with a whole school year of substitutions in one GPU014 (200 school
days, about 118,000 lines): import time and peak memory, and the time the panel then takes to
load a school day's plan. A PostgreSQL database named in the URL is dropped and made anew.
"""

import argparse
import multiprocessing
import statistics
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.setup_db import database_url, migrated_app, workdir  # noqa: E402
from mdm.accounts.models import School  # noqa: E402
from mdm.extensions import db  # noqa: E402
from mdm.platform.actors import Actor  # noqa: E402
from schedules import demo_gpu, import_service, panel_service  # noqa: E402

TARGET_SECONDS = 2.0


def large_school(days: int = 5) -> dict[str, bytes]:
    """The benchmark school's GPU files, with substitutions on `days` school days."""
    return demo_gpu.generate_school(
        11, classes=60, teachers=120, start=date(2026, 9, 7), days=days, substitutions_per_day=400
    )


def _peak_of_one_import(url: str, days: int, out: multiprocessing.Queue) -> None:
    """In a process of its own: import the school once; put the seconds (traced, so slower than
    untraced), the peak of the memory Python allocated for it (MB; tracemalloc), and the seconds
    a fresh panel takes to load a day's plan."""
    app = migrated_app(url)
    files = large_school(days)
    with app.app_context():
        school = School(slug=f"peak-{days}", name="Peak", timezone="Europe/Berlin")
        db.session.add(school)
        db.session.commit()
        school_id = school.id
    tracemalloc.start()
    seconds, _changes = timed_import(app, school_id, files)
    peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
    tracemalloc.stop()
    with app.app_context():
        state = panel_service.panel_state(db.session, school_id)
        started = time.perf_counter()
        panel_service.load_plan(db.session, state, date(2026, 9, 8), 2)
        panel_seconds = time.perf_counter() - started
    out.put((seconds, peak, panel_seconds))


def peak_of_one_import(url: str, days: int) -> tuple[float, float, float]:
    """Seconds, peak memory growth (MB) and panel load seconds of one first import."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_peak_of_one_import, args=(url, days, out))
    process.start()
    result = out.get(timeout=900)
    process.join()
    return result


def timed_import(
    app: Flask, school_id: int, files: dict[str, bytes]
) -> tuple[float, dict[str, int]]:
    """Seconds to parse, apply and commit the files; and the substitution changes."""
    with app.app_context():
        started = time.perf_counter()
        result = import_service.import_files(
            db.session, Actor.system("bench"), school_id, files, "untis-gpu"
        )
        db.session.commit()
        elapsed = time.perf_counter() - started
        changes = dict(result.record.changes)
        db.session.remove()
    return elapsed, changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--huge", action="store_true", help="also the school-year GPU014")
    args = parser.parse_args()

    url = database_url(args.database, workdir())
    app = migrated_app(url)
    files = large_school()
    rows = files["GPU001.TXT"].count(b"\n")
    substitutions = files["GPU014.TXT"].count(b"\n")
    first, again = [], []
    for run in range(args.runs):
        with app.app_context():
            school = School(slug=f"bench-{run}", name=f"Bench {run}", timezone="Europe/Berlin")
            db.session.add(school)
            db.session.commit()
            school_id = school.id
        seconds, changes = timed_import(app, school_id, files)
        assert changes["new"] == substitutions, changes
        first.append(seconds)
        seconds, changes = timed_import(app, school_id, files)
        assert changes == {"new": 0, "changed": 0, "removed": 0}, changes
        again.append(seconds)

    dialect = "PostgreSQL" if args.database.startswith("postgresql") else "SQLite"
    first_median, again_median = statistics.median(first), statistics.median(again)
    verdict = "met" if max(first_median, again_median) < TARGET_SECONDS else "missed"
    print("| database | GPU001 rows | substitutions | first import | re-import | 2 s target |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {dialect} | {rows} | {substitutions} | {first_median:.2f} s | "
        f"{again_median:.2f} s | {verdict} |"
    )
    print(f"\nmedians of {args.runs} runs; first imports {', '.join(f'{s:.2f}' for s in first)}")
    _seconds, peak, _panel = peak_of_one_import(url, 5)
    print(f"peak memory of one first import (own process, tracemalloc): {peak:.0f} MB")
    if args.huge:
        seconds, peak, panel = peak_of_one_import(url, 200)
        print(
            f"huge school (a school year of substitutions in one GPU014, 200 days): import "
            f"{seconds:.1f} s while traced, peak memory {peak:.0f} MB; then a fresh panel loads "
            f"a school day's plan in {panel * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
