"""Running gunicorn and wrk side by side on this machine, and reading wrk's figures."""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: requests per second, latency percentiles in ms, errors."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(app_spec: str, env: dict[str, str], workers: int, threads: int) -> Iterator[str]:
    """Serve app_spec with config/gunicorn.conf.py on a free loopback port; yield its base URL."""
    port = free_port()
    full_env = (
        os.environ
        | env
        | {
            "MDM_BIND": f"127.0.0.1:{port}",
            "MDM_WORKERS": str(workers),
            "MDM_THREADS": str(threads),
        }
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(GUNICORN_CONF),
        "--access-logfile",
        "/dev/null",
        "--error-logfile",
        "-",
        app_spec,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"gunicorn exited: {stderr[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                return
        except OSError as exc:
            if getattr(exc, "code", None) == 404:  # the ceiling app has no /healthz
                return
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not come up")


def wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 2,
    script: Path | None = None,
    script_args: list[str] | None = None,
) -> WrkResult:
    """Run wrk with latency statistics (bounded in time) and parse what it prints."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    return parse_wrk(output)


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, p50, p99, request and error counts from wrk's --latency output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", output)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", output)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(rps, _ms(*p50.groups()), _ms(*p99.groups()), total, errors)


def median_result(results: list[WrkResult]) -> WrkResult:
    """The median of each figure over several runs."""
    return WrkResult(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.requests for r in results),
        sum(r.errors for r in results),
    )


def ratio_row(name: str, results: list[WrkResult], ceilings: list[WrkResult]) -> str:
    """A markdown row: medians of the runs, and the median of the per-round ratios to the
    ceiling (each ratio from two adjacent runs, so a noisy minute affects both sides alike)."""
    result = median_result(results)
    pairs = zip(results, ceilings, strict=True)
    ratios = [r.requests_per_second / c.requests_per_second for r, c in pairs]
    return (
        f"| {name} | {result.requests_per_second:.0f} | {result.p50_ms:.1f} | "
        f"{result.p99_ms:.1f} | {result.errors} | "
        f"{median_result(ceilings).requests_per_second:.0f} | {statistics.median(ratios):.0%} "
        f"({min(ratios):.0%}-{max(ratios):.0%}) |"
    )


RATIO_HEADER = (
    "| what | req/s | p50 ms | p99 ms | errors | ceiling req/s | ratio to ceiling (range) |\n"
    "|---|---|---|---|---|---|---|"
)
