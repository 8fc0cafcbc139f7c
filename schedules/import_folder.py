"""The folder job: import each school's export from TIMETABLE_IMPORT_FOLDER/<school-slug>/.

Untis or Indiware write their export into the school's folder (files, subfolders, or one zip);
the job imports it when the files' sha256 set differs from the school's last import (applied or
refused). A refused import is rolled back, so the previous plan stays, and recorded in the
import history with its reason; the job never forces an import that removes too much.
"""

import hashlib
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
        except (import_service.ImportRefused, ImportFilesError) as exc:
            db.session.rollback()
            reason = exc.detail if isinstance(exc, DomainError) else str(exc)
            log.error("timetable import from %s refused, nothing changed: %s", folder, reason)
            _record_refusal(school, folder, reason)
        except (DomainError, OSError) as exc:
            db.session.rollback()
            log.error("timetable import from %s failed, nothing changed: %s", folder, exc)
        except Exception:
            db.session.rollback()
            log.exception("timetable import from %s failed, nothing changed", folder)


def _record_refusal(school: School, folder: Path, reason: str) -> None:
    """The refusal in the school's import history, with the files' hashes (so the same export
    is not tried again until it changes)."""
    try:
        hashes = file_hashes(read_path(folder, import_service.limits()))
    except (ImportFilesError, OSError):
        hashes = _hashes(folder)
    import_service.record_refusal(
        db.session, Actor.system("import-folder"), school.id, hashes, reason
    )
    db.session.commit()


def _hashes(folder: Path) -> dict[str, str]:
    """The sha256 of the folder's files as they lie (when they cannot be read as an export)."""
    return {
        entry.relative_to(folder).as_posix(): hashlib.sha256(entry.read_bytes()).hexdigest()
        for entry in sorted(folder.rglob("*"))
        if entry.is_file()
    }


def import_school_folder(school: School, folder: Path) -> import_service.ImportResult | None:
    """Import the folder's export unless it is unchanged, empty or still being written."""
    entries = [entry for entry in folder.rglob("*") if entry.is_file()]
    if any(entry.stat().st_mtime > time.time() - SETTLE_SECONDS for entry in entries):
        log.info("timetable import folder %s changed just now; next run", folder)
        return None
    if not entries:
        return None
    last = import_service.last_import(db.session, school.id)
    seen = set(last.files.values()) if last is not None else None
    if seen == set(_hashes(folder).values()):
        return None  # refused as it lies (unreadable as an export), unchanged since
    files = read_path(folder, import_service.limits())
    if seen == set(file_hashes(files).values()):
        return None
    result = import_service.import_files(
        db.session, Actor.system("import-folder"), school.id, files
    )
    log.info(
        "timetable import %s for %s from %s: %s",
        result.record.id,
        school.slug,
        folder,
        result.record.kinds if result.record else {},
    )
    return result
