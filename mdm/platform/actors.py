"""Who is acting: a logged-in user, or the system (CLI, scheduled job). No Flask here."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The actor of a service call, for authorization, school scoping and the audit log."""

    name: str
    role: str
    user_id: int | None = None
    school_id: int | None = None
    address: str | None = None

    @property
    def is_city_admin(self) -> bool:
        """City IT admins (and the system) see every school."""
        return self.role in ("it_admin", "system")

    @classmethod
    def system(cls, name: str) -> "Actor":
        """The actor of a CLI command or a scheduled job."""
        return cls(name=name, role="system")
