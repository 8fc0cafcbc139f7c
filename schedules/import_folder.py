"""The folder job: import each school's export from TIMETABLE_IMPORT_FOLDER/<school-slug>/.

Untis or Indiware write their export into the school's folder (files, or one zip); the job
imports it when the files' sha256 set differs from the school's last import. A failed import is
logged and rolled back, so the previous plan stays.
"""

import logging
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from mdm.accounts.models import School
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError
from schedules import import_service
from schedules.import_files import ImportFilesError, file_hashes, read_path

log = logging.getLogger(__name__)
JOB_ID = "schedules.import-folder"
# A file changed this recently may still be being written; the next run takes it.
SETTLE_SECONDS = 10


def import_folders() -> None:
    """Look at every school's folder and import what is new (one commit per school)."""
    root = Path(current_app.config["TIMETABLE_IMPORT_FOLDER"])
    if not root.is_dir():
        log.error("timetable import folder %s does not exist", root)
        return
    for folder in sorted(entry for entry in root.iterdir() if entry.is_dir()):
        school = db.session.scalar(select(School).where(School.slug == folder.name))
        if school is None:
            log.warning("timetable import folder %s: no school with this slug", folder)
            continue
        try:
            import_school_folder(school, folder)
            db.session.commit()
        except (DomainError, ImportFilesError, OSError) as exc:
            db.session.rollback()
            log.error("timetable import from %s failed, nothing changed: %s", folder, exc)
        except Exception:
            db.session.rollback()
            log.exception("timetable import from %s failed, nothing changed", folder)


def import_school_folder(school: School, folder: Path) -> import_service.ImportResult | None:
    """Import the folder's export unless it is unchanged, empty or still being written."""
    entries = [entry for entry in folder.iterdir() if entry.is_file()]
    if any(entry.stat().st_mtime > time.time() - SETTLE_SECONDS for entry in entries):
        log.info("timetable import folder %s changed just now; next run", folder)
        return None
    files = read_path(folder)
    if not files:
        return None
    last = import_service.last_import(db.session, school.id)
    if last is not None and set(last.files.values()) == set(file_hashes(files).values()):
        return None
    result = import_service.import_files(
        db.session, Actor.system("import-folder"), school.id, files
    )
    log.info(
        "timetable import %s for %s from %s: %s",
        result.record.id,
        school.slug,
        folder,
        result.record.changes,
    )
    return result
