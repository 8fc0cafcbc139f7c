"""`mdm sync-class-groups`: bring the class groups in line (after an upgrade, or to check)."""

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from mdm.accounts.models import School
from mdm.devices import class_groups
from mdm.extensions import db
from mdm.platform.actors import Actor


@click.command("sync-class-groups")
@click.option("--school", "slug", default=None, help="Only this school (its slug).")
@with_appcontext
def sync_class_groups_command(slug: str | None) -> None:
    """Make a device group for every class of the schools' timetables and students, with the
    class's students and their devices (imports and user changes do this by themselves)."""
    stmt = select(School).order_by(School.slug)
    if slug is not None:
        stmt = stmt.where(School.slug == slug)
    schools = list(db.session.scalars(stmt))
    if not schools:
        raise click.ClickException(f"no school {slug!r}")
    actor = Actor.system("cli:sync-class-groups")
    for school in schools:
        changes = class_groups.sync_class_groups(db.session, actor, school.id)
        db.session.commit()
        click.echo(f"{school.slug}: {class_groups.summary(changes)}")
