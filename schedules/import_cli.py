"""`mdm import untis|indiware PATH --school SLUG`: import an export from a file, folder or zip;
`mdm import restore --school SLUG`: undo the school's last import."""

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from mdm.accounts.models import School
from mdm.devices import class_groups
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError
from schedules import import_service
from schedules.import_files import (
    INDIWARE,
    UNTIS_GPU,
    UNTIS_HTML,
    ImportFilesError,
    file_hashes,
    read_path,
)

import_group = click.Group("import", help="Import a timetable export into a school.")
PATH_ARGUMENT = click.argument(
    "path", type=click.Path(exists=True, path_type=Path, file_okay=True, dir_okay=True)
)
SCHOOL_OPTION = click.option("--school", "slug", required=True, help="The school's slug.")
DRY_RUN_OPTION = click.option(
    "--dry-run", is_flag=True, help="Say what would change; change nothing."
)
FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="Apply even when the export removes more than the configured share of a kind.",
)
CLI = Actor.system("cli")


@import_group.command("untis")
@PATH_ARGUMENT
@SCHOOL_OPTION
@DRY_RUN_OPTION
@FORCE_OPTION
@with_appcontext
def import_untis(path: Path, slug: str, dry_run: bool, force: bool) -> None:
    """Import Untis GPU files (GPU001.TXT ...) and HTML pages (subst_001.htm ...), mixed too."""
    _import(path, _school(slug), (UNTIS_GPU, UNTIS_HTML), dry_run=dry_run, force=force)


@import_group.command("indiware")
@PATH_ARGUMENT
@SCHOOL_OPTION
@DRY_RUN_OPTION
@FORCE_OPTION
@with_appcontext
def import_indiware(path: Path, slug: str, dry_run: bool, force: bool) -> None:
    """Import Indiware VpMobil plans (PlanKl*.xml)."""
    _import(path, _school(slug), (INDIWARE,), dry_run=dry_run, force=force)


@import_group.command("restore")
@SCHOOL_OPTION
@with_appcontext
def restore(slug: str) -> None:
    """Undo the school's last import: its plan as it was before (one level)."""
    school = _school(slug)
    try:
        result = import_service.restore_before_last_import(db.session, CLI, school.id)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(_reason(exc)) from exc
    for line in report_lines(result):
        click.echo(line)


def _school(slug: str) -> School:
    school = db.session.scalar(select(School).where(School.slug == slug))
    if school is None:
        raise click.ClickException(f"no school with the slug {slug!r}")
    return school


def _reason(exc: DomainError) -> str:
    reasons = "; ".join(r for values in (exc.errors or {}).values() for r in values)
    return exc.detail if exc.detail != exc.title else reasons


def _import(
    path: Path, school: School, formats: tuple[str, ...], *, dry_run: bool, force: bool
) -> None:
    """Read, apply and commit; on a refusal roll back, record it, say why and exit with 1."""
    files: dict[str, bytes] = {}
    try:
        files = read_path(path, import_service.limits())
        result = import_service.import_files(
            db.session, CLI, school.id, files, formats, force=force, dry_run=dry_run
        )
        db.session.commit()
    except (ImportFilesError, OSError, DomainError) as exc:
        db.session.rollback()
        if isinstance(exc, DomainError):
            reason = _reason(exc)
        else:
            reason = f"the import was refused, nothing changed: {exc}"
        if not dry_run and isinstance(exc, ImportFilesError | import_service.ImportRefused):
            hashes = file_hashes(files) if files else {path.name: ""}
            import_service.record_refusal(db.session, CLI, school.id, hashes, reason)
            db.session.commit()
        raise click.ClickException(reason) from exc
    for line in report_lines(result):
        click.echo(line)


def report_lines(result: import_service.ImportResult) -> list[str]:
    """An import report for people: what changed per kind, the plan version, the warnings
    (one line per kind of warning)."""
    record = result.record
    batch = result.batch
    if record is None:
        source = batch.source if batch else ""
        lines = [f"Dry run ({source}): nothing was changed. The import would change:"]
    else:
        counts = ", ".join(f"{count} {name}" for name, count in record.counts.items() if count)
        lines = [
            f"Import {record.id} ({record.source}, {len(record.files)} files): "
            f"{counts or 'nothing'}"
        ]
    for kind, changes in result.kinds.items():
        if changes.any or kind == "substitutions":
            line = (
                f"{kind.replace('_', ' ').capitalize()}: {changes.new} new, "
                f"{changes.changed} changed, {changes.removed} removed"
            )
            if record is None and changes.examples:
                line += " (e.g. " + "; ".join(changes.examples) + ")"
            lines.append(line)
    if record is None:
        if result.refusal:
            lines.append(f"It would be refused without --force: {result.refusal}")
    else:
        lines.append(
            f"Plan version {result.plan_version}"
            + ("" if result.plan_changed else " (unchanged: the export held nothing new)")
        )
        if record.partial_dates:
            lines.append(
                f"Pages missing ({', '.join(record.missing_pages)}): "
                f"{', '.join(record.partial_dates)} were added to, nothing of them removed"
            )
    if result.class_groups:
        lines.append(f"Class groups: {class_groups.summary(result.class_groups)}")
    for warning in result.warning_summary:
        examples = "; ".join(warning["examples"])
        lines.append(f"warning ({warning['count']}x): {warning['warning']} — e.g. {examples}")
    return lines
