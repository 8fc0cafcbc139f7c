"""Applying an export to a school: one transaction, idempotent, with its changes; previews, the
undo of the last import, and refused imports in the history.

The rules are in docs/timetable-import.md. An import replaces exactly what the export is
authoritative for (schedules/plan_changes.py) and leaves everything else alone; one that would
remove more than TIMETABLE_IMPORT_MAX_REMOVED_SHARE of a kind needs `force`. It flushes and never
commits; when it raises (unreadable or cut-off files, dates outside the school year, too much
removed) the caller rolls back, nothing changed, and the caller records the refusal
(`record_refusal`) in a transaction of its own.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mdm.accounts.service import get_school
from mdm.devices import class_groups
from mdm.platform import audit
from mdm.platform.actors import Actor
from mdm.platform.errors import Conflict, NotFound, ValidationFailed
from mdm.platform.scoping import ADMINS, require_role, require_school
from mdm.platform.types import utcnow
from schedules import models, plan_changes, untis_gpu
from schedules.import_data import ImportBatch, ImportFormatError, ParseWarning
from schedules.import_files import (
    FORMATS,
    ImportFilesError,
    Limits,
    expand_uploads,
    file_hashes,
    parse_files,
)
from schedules.plan_changes import KindChanges, Scope

# How long an uploaded, previewed export waits to be applied (admin pages).
UPLOAD_KEPT = timedelta(days=1)
# An import keeps at most this many warnings; a broken file could otherwise produce millions.
MAX_WARNINGS = 200
# A kind with fewer rows than this in the replaced part may lose any share of them.
MIN_ROWS_FOR_SHARE = 10
# The order in which reports list the kinds.
KINDS = (
    *plan_changes.MASTER_DATA,
    "time_grid",
    "lessons",
    "dated_lessons",
    "substitutions",
    "absences",
    "day_messages",
    "holidays",
)


class ImportRefused(ValidationFailed):
    """The export was not applied; nothing changed. The message says why (a problem of type
    validation, naming `files`, `dates` or `force`)."""


@dataclass
class ImportResult:
    """An import, applied or previewed: its history row (None for a preview), whether the plan
    changed, the plan's version, and what changed per kind."""

    record: models.TimetableImport | None
    plan_changed: bool
    plan_version: int
    kinds: dict[str, KindChanges] = field(default_factory=dict)
    warning_summary: list[dict[str, Any]] = field(default_factory=list)
    batch: ImportBatch | None = None
    # For a preview: why the import would be refused without force (too much removed).
    refusal: str | None = None
    # What following the timetable's classes changed in the device groups (class_groups).
    class_groups: dict[str, Any] = field(default_factory=dict)


def limits() -> Limits:
    """The configured size limits of an export."""
    config = current_app.config
    return Limits(
        files=int(config["TIMETABLE_IMPORT_MAX_FILES"]),
        total_bytes=int(config["TIMETABLE_IMPORT_MAX_BYTES"]),
        rows_per_file=int(config["TIMETABLE_IMPORT_MAX_ROWS"]),
    )


def read_uploads(uploads: list[tuple[str, bytes]]) -> dict[str, bytes]:
    """Uploaded files (a .zip among them unpacked) within the limits; ImportRefused if not."""
    if not uploads:
        raise ValidationFailed(errors={"files": ["attach the export's files (or one zip)"]})
    try:
        return expand_uploads(uploads, limits())
    except ImportFilesError as exc:
        raise _refused(str(exc)) from exc


def _refused(reason: str) -> ImportRefused:
    return ImportRefused(
        f"The import was refused, nothing changed: {reason}", errors={"files": [reason]}
    )


def import_files(
    session: Session,
    actor: Actor,
    school_id: int,
    files: dict[str, bytes],
    file_format: str | tuple[str, ...] | None = None,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> ImportResult:
    """Parse an export's files (each file's format detected, of `file_format` when given) and
    apply them; with dry_run, say what would change and change nothing."""
    require_school(actor, school_id)
    require_role(actor, ADMINS, "only admins import timetables")
    wanted = (file_format,) if isinstance(file_format, str) else file_format or FORMATS
    if any(name not in FORMATS for name in wanted):
        raise ValidationFailed(errors={"format": [f"one of {', '.join(FORMATS)}"]})
    try:
        batch = parse_files(files, wanted, limits())
    except (ImportFormatError, ImportFilesError) as exc:
        raise _refused(str(exc)) from exc
    hashes = file_hashes(files)
    if dry_run:
        return preview_batch(session, actor, school_id, batch)
    return apply_batch(session, actor, school_id, batch, hashes, force=force)


def preview_batch(
    session: Session, actor: Actor, school_id: int, batch: ImportBatch
) -> ImportResult:
    """What applying the batch would change, per kind; nothing changes."""
    with session.begin_nested() as preview:
        result = apply_batch(session, actor, school_id, batch, {}, keep=False)
        preview.rollback()
    return result


def apply_batch(
    session: Session,
    actor: Actor,
    school_id: int,
    batch: ImportBatch,
    files: dict[str, str],
    *,
    force: bool = False,
    keep: bool = True,
    scope: Scope | None = None,
) -> ImportResult:
    """Apply a parsed export to the school; files maps file names to their sha256. With keep
    (not a preview) the import is recorded in the history, audited, and what it replaced is
    kept so that it can be undone."""
    get_school(session, actor, school_id)
    settings = session.get(models.PanelSettings, school_id, with_for_update=True)
    scope = scope or plan_changes.scope_of(batch)
    _check_school_year(session, school_id, batch, scope)
    now = utcnow()
    before = plan_changes.plan_before(session, school_id, scope, batch) if keep else None
    record = None
    if keep:
        record = _record(session, actor, school_id, batch, files, scope, now)
    kinds: dict[str, KindChanges] = {}
    for kind in sorted(scope.master_data):
        rows = plan_changes._master_rows(batch, kind)
        kinds[kind] = plan_changes.sync_master_data(session, school_id, kind, rows)
    if scope.time_grid:
        kinds["time_grid"] = plan_changes.replace_time_grid(session, school_id, batch.periods)
    links_changed = plan_changes.link_teachers(session, school_id)
    if scope.weekly_lessons:
        kinds["lessons"] = plan_changes.replace_weekly_lessons(session, school_id, batch.lessons)
    if scope.dated_lessons and scope.substitution_dates:
        kinds["dated_lessons"] = plan_changes.replace_dated_lessons(
            session, school_id, batch.lessons, scope.substitution_dates
        )
    kinds["substitutions"] = plan_changes.replace_substitutions(
        session, school_id, record.id if record else None, batch.substitutions, scope, now
    )
    kinds["absences"] = plan_changes.replace_absences(
        session, school_id, batch.absences, scope.absence_dates
    )
    kinds["day_messages"] = plan_changes.replace_day_messages(
        session, school_id, batch.day_messages, scope.message_dates
    )
    if scope.holidays:
        kinds["holidays"] = plan_changes.replace_holidays(session, school_id, batch.holidays)
    kinds = {kind: kinds[kind] for kind in KINDS if kind in kinds}
    refusal = None if force else too_much_removed(kinds)
    if refusal is not None and keep:
        raise ImportRefused(
            f"The import was refused, nothing changed: {refusal}.", errors={"force": [refusal]}
        )
    changed = links_changed or any(changes.any for changes in kinds.values())
    groups: dict[str, Any] = {}
    if "classes" in scope.master_data:
        session.flush()
        groups = class_groups.sync_class_groups(session, actor, school_id).to_dict()
    warnings = batch.warnings + _unknown_names(session, school_id, batch, files)
    summary = summarize_warnings(warnings)
    if settings is None:
        settings = models.PanelSettings(school_id=school_id, plan_version=0)
        session.add(settings)
    if changed and keep:
        settings.plan_version = (settings.plan_version or 0) + 1
        settings.plan_updated_at = now
    if record is not None:
        record.warnings = _warning_dicts(warnings)
        record.warning_summary = summary
        record.changes = kinds["substitutions"].counts()
        record.kinds = {kind: changes.counts() for kind, changes in kinds.items()}
        _keep_plan_before(session, school_id, record.id, before)
        session.flush()
        audit.record(
            session,
            actor,
            "timetable.import" if batch.source != "restore" else "timetable.restore",
            "timetable_import",
            record.id,
            school_id=school_id,
            details={
                "source": batch.source,
                "files": sorted(files),
                "changes": record.kinds,
                "plan_changed": changed,
            },
        )
    session.flush()
    return ImportResult(
        record=record,
        plan_changed=changed,
        plan_version=(settings.plan_version or 0),
        kinds=kinds,
        warning_summary=summary,
        batch=batch,
        refusal=refusal,
        class_groups=groups,
    )


def _record(
    session: Session,
    actor: Actor,
    school_id: int,
    batch: ImportBatch,
    files: dict[str, str],
    scope: Scope,
    now: datetime,
) -> models.TimetableImport:
    record = models.TimetableImport(
        school_id=school_id,
        source=batch.source,
        created_at=now,
        actor=actor.name,
        status="applied",
        files=files,
        counts=batch_counts(batch),
        covered_dates=[day.isoformat() for day in sorted(scope.substitution_dates)],
        partial_dates=[day.isoformat() for day in sorted(scope.partial_dates)],
        missing_pages=list(batch.missing_pages),
    )
    session.add(record)
    session.flush()
    return record


def _keep_plan_before(
    session: Session, school_id: int, import_id: int, plan: dict[str, Any] | None
) -> None:
    """Keep what this import replaced (one level of undo), in place of the last one."""
    session.execute(
        delete(models.PlanBeforeImport).where(models.PlanBeforeImport.school_id == school_id)
    )
    if plan is not None:
        session.add(models.PlanBeforeImport(school_id=school_id, import_id=import_id, plan=plan))


def too_much_removed(kinds: dict[str, KindChanges]) -> str | None:
    """Why an import removes more than the configured share of a kind, or None."""
    share = float(current_app.config["TIMETABLE_IMPORT_MAX_REMOVED_SHARE"])
    too_much = [
        f"{changes.removed} of {changes.before} {kind.replace('_', ' ')}"
        for kind, changes in kinds.items()
        if changes.before >= MIN_ROWS_FOR_SHARE and changes.removed > share * changes.before
    ]
    if not too_much:
        return None
    return (
        f"it would remove {', '.join(too_much)} (more than {share:.0%}); check the export, "
        "or import it with force if that is right"
    )


def timetable_classes(session: Session, school_id: int) -> list[str]:
    """The classes of the school's timetable (its class master data), for the class groups."""
    return list(
        session.scalars(
            select(models.SchoolClass.name).where(models.SchoolClass.school_id == school_id)
        )
    )


def _check_school_year(session: Session, school_id: int, batch: ImportBatch, scope: Scope) -> None:
    """Refuse dates outside every school year of the school (when it has any)."""
    years = session.execute(
        select(models.SchoolYear.name, models.SchoolYear.starts_on, models.SchoolYear.ends_on)
        .where(models.SchoolYear.school_id == school_id)
        .order_by(models.SchoolYear.starts_on)
    ).all()
    if not years:
        return
    checked = (
        scope.substitution_dates
        | scope.partial_dates
        | {s.date for s in batch.substitutions}
        | {m.date for m in batch.day_messages}
        | {a.from_date for a in batch.absences}
        | {a.to_date for a in batch.absences}
    )
    outside = sorted(
        day for day in checked if not any(y.starts_on <= day <= y.ends_on for y in years)
    )
    if outside:
        spans = ", ".join(f"{y.name} ({y.starts_on} to {y.ends_on})" for y in years)
        shown = ", ".join(day.isoformat() for day in outside[:5])
        more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        raise ImportRefused(
            f"The export has dates outside the school year; nothing changed: {shown}{more}.",
            errors={"dates": [f"{shown}{more} outside the school years {spans}"]},
        )


def batch_counts(batch: ImportBatch) -> dict[str, int]:
    """How many of each thing the export holds."""
    return {
        "classes": len(batch.classes),
        "teachers": len(batch.teachers),
        "rooms": len(batch.rooms),
        "subjects": len(batch.subjects),
        "periods": len(batch.periods),
        "courses": len(batch.courses),
        "lessons": len(batch.lessons),
        "substitutions": len(batch.substitutions),
        "absences": len(batch.absences),
        "day_messages": len(batch.day_messages),
        "holidays": len(batch.holidays),
    }


def _unknown_names(
    session: Session, school_id: int, batch: ImportBatch, files: dict[str, str]
) -> list[ParseWarning]:
    """Warnings for classes and teachers in substitutions that the school's master data lacks.

    Only checked when the school has master data of that kind (an Indiware-only school has none).
    """
    file = next(
        (name for name in sorted(files) if untis_gpu.gpu_file_type(name) == "GPU014"),
        next(iter(files)) if len(files) == 1 else batch.source,
    )
    warnings = []
    for what, model, column, attributes in (
        ("class", models.SchoolClass, models.SchoolClass.name, ("original_classes", "new_classes")),
        (
            "teacher",
            models.Teacher,
            models.Teacher.abbreviation,
            ("original_teachers", "new_teachers"),
        ),
    ):
        known = set(session.scalars(select(column).where(model.school_id == school_id)))
        if not known:
            continue
        unknown: dict[str, int] = defaultdict(int)
        for substitution in batch.substitutions:
            for name in set().union(*(getattr(substitution, a) for a in attributes)):
                if name not in known:
                    unknown[name] += 1
        warnings += [
            ParseWarning(
                file, None, f"unknown {what} {name!r} in {count} substitution(s); imported"
            )
            for name, count in sorted(unknown.items())
        ]
    return warnings


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\d+")


def warning_kind(message: str) -> str:
    """What kind of warning a message is: its words, without the names and numbers in it."""
    return _NUMBER.sub("#", _QUOTED.sub("…", message))


def summarize_warnings(warnings: list[ParseWarning], examples: int = 3) -> list[dict[str, Any]]:
    """One line per kind of warning: how many, and the first few."""
    groups: dict[str, list[ParseWarning]] = {}
    for warning in warnings:
        groups.setdefault(warning_kind(warning.message), []).append(warning)
    return [
        {
            "warning": kind,
            "count": len(group),
            "examples": [str(warning) for warning in group[:examples]],
        }
        for kind, group in groups.items()
    ]


def _warning_dicts(warnings: list[ParseWarning]) -> list[dict[str, Any]]:
    kept = [{"file": w.file, "line": w.line, "message": w.message} for w in warnings[:MAX_WARNINGS]]
    if len(warnings) > MAX_WARNINGS:
        kept.append(
            {"file": "", "line": None, "message": f"{len(warnings) - MAX_WARNINGS} more warnings"}
        )
    return kept


def record_refusal(
    session: Session,
    actor: Actor,
    school_id: int,
    files: dict[str, str],
    reason: str,
    source: str = "",
) -> models.TimetableImport:
    """Record a refused import in the history (after the caller rolled the import back)."""
    record = models.TimetableImport(
        school_id=school_id,
        source=source or "unknown",
        actor=actor.name,
        status="refused",
        reason=reason[:5000],
        files=files,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "timetable.import.refused",
        "timetable_import",
        record.id,
        school_id=school_id,
        details={"files": sorted(files), "reason": reason[:500]},
    )
    return record


def restore_before_last_import(session: Session, actor: Actor, school_id: int) -> ImportResult:
    """Put the plan back as it was before the school's last import (one level); the restore is
    an import of its own, with a new plan version."""
    get_school(session, actor, school_id)
    require_role(actor, ADMINS, "only admins restore timetables")
    kept = session.get(models.PlanBeforeImport, school_id, with_for_update=True)
    if kept is None:
        raise Conflict("there is no import to undo (only the last import can be undone, once)")
    undone = kept.import_id
    batch, scope = plan_changes.restore_batch(kept.plan)
    result = apply_batch(session, actor, school_id, batch, {}, force=True, scope=scope)
    # One level: the restore itself is not undone.
    session.execute(
        delete(models.PlanBeforeImport).where(models.PlanBeforeImport.school_id == school_id)
    )
    if result.record is not None:
        result.record.reason = f"restored the plan as it was before import {undone}"
    session.flush()
    return result


def list_imports(
    session: Session, actor: Actor, school_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[models.TimetableImport], int]:
    """The school's imports, applied and refused, newest first, with the total for paging."""
    require_school(actor, school_id)
    where = models.TimetableImport.school_id == school_id
    total = session.scalar(select(func.count()).select_from(models.TimetableImport).where(where))
    rows = session.scalars(
        select(models.TimetableImport)
        .where(where)
        .order_by(models.TimetableImport.created_at.desc(), models.TimetableImport.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total or 0


def get_import(
    session: Session,
    actor: Actor,
    school_id: int,
    import_id: int,
    *,
    limit: int = 100,
    offset: int = 0,
) -> tuple[models.TimetableImport, list[models.SubstitutionChange], int]:
    """One import of the school with a page of the substitution changes it made and their
    total."""
    require_school(actor, school_id)
    record = session.get(models.TimetableImport, import_id)
    if record is None or record.school_id != school_id:
        raise NotFound(f"import {import_id} not found")
    where = models.SubstitutionChange.import_id == import_id
    total = session.scalar(select(func.count()).select_from(models.SubstitutionChange).where(where))
    changes = session.scalars(
        select(models.SubstitutionChange)
        .where(where)
        .order_by(models.SubstitutionChange.date, models.SubstitutionChange.key)
        .limit(limit)
        .offset(offset)
    ).all()
    return record, list(changes), total or 0


def last_import(session: Session, school_id: int) -> models.TimetableImport | None:
    """The school's most recent import, applied or refused."""
    return session.scalar(
        select(models.TimetableImport)
        .where(models.TimetableImport.school_id == school_id)
        .order_by(models.TimetableImport.created_at.desc(), models.TimetableImport.id.desc())
        .limit(1)
    )


def keep_upload(
    session: Session, actor: Actor, school_id: int, files: dict[str, bytes], file_format: str
) -> models.TimetableUpload:
    """Keep a previewed export until it is applied (or a day at most); older ones are dropped."""
    require_school(actor, school_id)
    require_role(actor, ADMINS, "only admins import timetables")
    session.execute(
        delete(models.TimetableUpload).where(
            models.TimetableUpload.created_at < utcnow() - UPLOAD_KEPT
        )
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
        for name, data in files.items():
            packed.writestr(name, data)
    upload = models.TimetableUpload(
        school_id=school_id,
        created_by_id=actor.user_id,
        file_format=file_format,
        archive=archive.getvalue(),
    )
    session.add(upload)
    session.flush()
    return upload


def take_upload(
    session: Session, actor: Actor, school_id: int, upload_id: int
) -> tuple[dict[str, bytes], str]:
    """The files of a kept upload of the school and its format; it is gone afterwards (unless
    the caller rolls back). NotFound once applied, dropped, or of another school."""
    require_school(actor, school_id)
    require_role(actor, ADMINS, "only admins import timetables")
    upload = session.get(models.TimetableUpload, upload_id)
    if (
        upload is None
        or upload.school_id != school_id
        or upload.created_at < utcnow() - UPLOAD_KEPT
    ):
        raise NotFound(f"upload {upload_id} not found (applied already, or older than a day)")
    with zipfile.ZipFile(io.BytesIO(upload.archive)) as packed:
        files = {name: packed.read(name) for name in packed.namelist()}
    file_format = upload.file_format
    session.delete(upload)
    session.flush()
    return files, file_format
