"""Gunicorn's access log without the secrets that links carry: a calendar feed (`cal_…`), an
enrollment link (`et_…`), the panel's read-only link (`pl_…`). Whoever reads the log (a
colleague, a log collector) would otherwise hold every subscribed feed and enrollment link.
Gunicorn loads this class by its `logger_class` setting (config/gunicorn.conf.py, `mdm run`)."""

import re
from typing import Any

from gunicorn.glogging import Logger

# A path segment of a short lower-case prefix and a long URL-safe secret.
LINK_SECRET = re.compile(r"(/[a-z]{2,4}_)[A-Za-z0-9_-]{20,}")
# The parts of a log line that hold the request's path: request line, path, query, referrer.
WITH_PATH = ("r", "U", "q", "f")


def without_secrets(text: str) -> str:
    """The text with every link secret cut to its prefix."""
    return LINK_SECRET.sub(r"\1…", text)


class AccessLogger(Logger):  # type: ignore[misc]
    """Gunicorn's logger, writing the access log without link secrets."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The values of the log line, link secrets cut."""
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in WITH_PATH:
            if isinstance(atoms.get(name), str):
                atoms[name] = without_secrets(atoms[name])
        return atoms
