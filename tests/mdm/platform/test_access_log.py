"""The access log of `mdm run` and of production gunicorn: the secrets that links carry (calendar
feeds, enrollment links, the panel's read-only links) are not written to it."""

import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from mdm.cli import embedded_server_settings

SECRET = "uIj69D5djODvbd9lNtxvospBmwggMPmYaGqFw1Ttj1E"
PRODUCTION = Path(__file__).parents[3] / "config" / "gunicorn.conf.py"


def logged_line(settings: dict, tmp_path: Path, path: str, query: str = "") -> str:
    """What gunicorn with these settings writes to its access log for one GET."""
    config = Config()
    for name in ("accesslog", "logger_class"):
        if name in settings:
            config.set(name, settings[name])
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = config.logger_class(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path + (f"?{query}" if query else ""),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_REFERER": f"https://mdm.example{path}",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    logger.close_on_exec()
    return (tmp_path / "access.log").read_text()


@pytest.mark.parametrize(
    "path",
    [f"/calendars/cal_{SECRET}.ics", f"/enroll/et_{SECRET}", f"/panel/pl_{SECRET}"],
)
@pytest.mark.parametrize("where", ["mdm run", "production"])
def test_the_access_log_keeps_no_link_secret(tmp_path: Path, path: str, where: str) -> None:
    settings = (
        embedded_server_settings("127.0.0.1", 5001, 4)
        if where == "mdm run"
        else runpy.run_path(str(PRODUCTION))
    )
    line = logged_line(settings, tmp_path, path, "screen=1")
    assert '"GET /' in line and " 200 " in line and "192.0.2.7" in line
    assert SECRET not in line
    assert path.split("_")[0] + "_" in line  # which kind of link it was stays readable
