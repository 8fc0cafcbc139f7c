"""The demo school: what a newcomer sees after `mdm demo` or `mdm run --demo`.

Packages add their own demo data with `register_demo`; each seeder must be idempotent.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from mdm.accounts import service
from mdm.accounts.models import School, User
from mdm.platform.actors import Actor

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo1234"
TEACHERS = [
    ("s.mueller", "Sabine", "Müller"),
    ("t.schneider", "Thomas", "Schneider"),
    ("a.fischer", "Anna", "Fischer"),
    ("m.weber", "Michael", "Weber"),
    ("j.wagner", "Julia", "Wagner"),
    ("k.becker", "Klaus", "Becker"),
]
STUDENTS = {
    "5a": [("lena.schmidt", "Lena", "Schmidt"), ("jonas.hoffmann", "Jonas", "Hoffmann")],
    "5b": [("mia.koch", "Mia", "Koch"), ("paul.richter", "Paul", "Richter")],
    "7a": [("emma.klein", "Emma", "Klein"), ("ben.wolf", "Ben", "Wolf")],
    "10c": [("lea.schroeder", "Lea", "Schröder"), ("noah.neumann", "Noah", "Neumann")],
}

DemoSeeder = Callable[[Session, School, Actor], list[str]]


@dataclass
class DemoResult:
    """What the demo seeded, and lines that tell the newcomer how to log in."""

    school: School
    created: bool
    notes: list[str] = field(default_factory=list)


def register_demo(app: Flask, seeder: DemoSeeder) -> None:
    """Let a package add its demo data (called with the demo school; returns lines to print)."""
    app.extensions.setdefault("mdm_demo", []).append(seeder)


def seed_demo(app: Flask, session: Session) -> DemoResult:
    """Create the demo school with its admin, teachers and students (again: changes nothing)."""
    actor = Actor.system("demo")
    school = session.scalar(select(School).where(School.slug == DEMO_SLUG))
    created = school is None
    if school is None:
        school = service.create_school(
            session, actor, DEMO_SLUG, "Demo-Gymnasium Musterstadt", app.config["DEFAULT_TIMEZONE"]
        )
    accounts = [("admin", "Schul", "Admin", "school_admin", None)]
    accounts += [(u, f, last, "teacher", None) for u, f, last in TEACHERS]
    accounts += [
        (u, f, last, "student", class_name)
        for class_name, students in STUDENTS.items()
        for u, f, last in students
    ]
    for username, first, last, role, class_name in accounts:
        if session.scalar(select(User.id).where(User.username == username)) is None:
            service.create_user(
                session,
                actor,
                username=username,
                role=role,
                password=DEMO_PASSWORD,
                school_id=school.id,
                first_name=first,
                last_name=last,
                class_name=class_name,
            )
    result = DemoResult(school=school, created=created)
    result.notes.append(f"Demo school: {school.name} (slug {school.slug!r}, id {school.id})")
    result.notes.append(f"School admin: username 'admin', password '{DEMO_PASSWORD}'")
    result.notes.append(
        f"Teachers: {', '.join(u for u, _, _ in TEACHERS)} (password '{DEMO_PASSWORD}')"
    )
    result.notes.append(f"Students, e.g. 'lena.schmidt' of class 5a (password '{DEMO_PASSWORD}')")
    for seeder in app.extensions.get("mdm_demo", []):
        result.notes.extend(seeder(session, school, actor))
    session.flush()
    return result
