"""`mdm import untis|indiware PATH --school SLUG`: import an export from a file, folder or zip."""

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from mdm.accounts.models import School
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError
from schedules import import_service
from schedules.import_files import (
    INDIWARE,
    UNTIS_GPU,
    UNTIS_HTML,
    ImportFilesError,
    detect_format,
    read_path,
)

import_group = click.Group("import", help="Import a timetable export into a school.")
PATH_ARGUMENT = click.argument(
    "path", type=click.Path(exists=True, path_type=Path, file_okay=True, dir_okay=True)
)
SCHOOL_OPTION = click.option("--school", "slug", required=True, help="The school's slug.")


@import_group.command("untis")
@PATH_ARGUMENT
@SCHOOL_OPTION
@with_appcontext
def import_untis(path: Path, slug: str) -> None:
    """Import Untis GPU files (GPU001.TXT ...) or HTML pages (subst_001.htm ...)."""
    _import(path, slug, (UNTIS_GPU, UNTIS_HTML))


@import_group.command("indiware")
@PATH_ARGUMENT
@SCHOOL_OPTION
@with_appcontext
def import_indiware(path: Path, slug: str) -> None:
    """Import Indiware VpMobil plans (PlanKl*.xml)."""
    _import(path, slug, (INDIWARE,))


def _import(path: Path, slug: str, formats: tuple[str, ...]) -> None:
    """Read, apply and commit; on failure roll back, say why and exit with 1."""
    school = db.session.scalar(select(School).where(School.slug == slug))
    if school is None:
        raise click.ClickException(f"no school with the slug {slug!r}")
    try:
        files = read_path(path)
        file_format = formats[0] if len(formats) == 1 else detect_format(list(files))
        if file_format not in formats:
            raise ImportFilesError(
                f"{path} holds a {file_format} export, not {' or '.join(formats)}"
            )
        result = import_service.import_files(
            db.session, Actor.system("cli"), school.id, files, file_format
        )
        db.session.commit()
    except (ImportFilesError, OSError) as exc:
        db.session.rollback()
        raise click.ClickException(f"the import was refused, nothing changed: {exc}") from exc
    except DomainError as exc:
        db.session.rollback()
        reasons = "; ".join(r for values in (exc.errors or {}).values() for r in values)
        raise click.ClickException(exc.detail if exc.detail != exc.title else reasons) from exc
    for line in report_lines(result):
        click.echo(line)


def report_lines(result: import_service.ImportResult) -> list[str]:
    """An import report for people: counts, changes, warnings."""
    record = result.record
    counts = ", ".join(f"{count} {name}" for name, count in record.counts.items() if count)
    changes = record.changes
    lines = [
        f"Import {record.id} ({record.source}, {len(record.files)} files): {counts or 'nothing'}",
        f"Substitutions: {changes['new']} new, {changes['changed']} changed, "
        f"{changes['removed']} removed",
        f"Plan version {result.plan_version}"
        + ("" if result.plan_changed else " (unchanged: the export held nothing new)"),
    ]
    lines += [
        f"warning: {w['file']}{'' if w['line'] is None else ':' + str(w['line'])}: {w['message']}"
        for w in record.warnings
    ]
    return lines
