"""The city of bench/morning_bench.py: schools with their plans, students, devices, and the
mornings they make (lists of requests in the order of the simulated clock).

Set-up writes straight into the database (bulk inserts, one transaction per school): students
share one cheap password hash and get their access tokens in-process, devices get their
credentials without enrolling, so that set-up of a whole city takes minutes, not hours.
"""

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Flask

PASSWORD = "bench-morning"
# One cheap hash shared by every generated student, computed once: at production cost (scrypt
# 32768:8:1, about 0.1 s a check on this machine, against 2.5 ms for this one) the login runs
# would measure little but scrypt.
PASSWORD_METHOD = "scrypt:1024:8:1"
TIMEZONE = "Europe/Berlin"
STUDENTS_PER_CLASS = 25
PLAN_VARIANTS = 10  # generated file sets, shared by the schools round-robin (seed = school % 10)
MORNING_SECONDS = 45 * 60  # 07:00 to 07:45
OPENS_WEIGHTS = (40, 30, 20, 10)  # a student opens the panel 1, 2, 3 or 4 times
PAUSE_SECONDS = (2 * 60, 10 * 60)  # between two opens of one student
CHECK_IN_SECONDS = 15 * 60  # the agent's interval (AGENT_CHECK_IN_SECONDS)

# Kinds of lines (and requests): a student's first panel open of a morning (cold for the
# server: a new token, a new query string), a later open, a device check-in, a login.
FIRST_OPEN, LATER_OPEN, CHECK_IN, LOGIN = "F", "P", "C", "L"
PANEL_KINDS = frozenset({FIRST_OPEN, LATER_OPEN})


@dataclass(frozen=True)
class Student:
    user_id: int
    username: str
    school_id: int


@dataclass(frozen=True)
class Device:
    secret: str
    school_id: int


@dataclass
class City:
    """What set-up made: the schools' ids, the students and devices, how long it took."""

    school_ids: list[int]
    students: list[Student]
    devices: list[Device]
    classes: dict[int, int]  # classes of each school
    seconds: dict[str, float]


@dataclass(frozen=True, slots=True)
class Line:
    """One request of a list: its kind, who sends it (index of the student or device, for
    logins the student), the school, the morning (or login pass) and the simulated time in it
    (seconds after 07:00), and its text in the file."""

    kind: str
    who: int
    school_id: int
    morning: int
    at: float
    text: str


def check_milliseconds(method: str, times: int = 3) -> float:
    """Milliseconds one password check takes with a hash of this method, here."""
    import time as clock

    from werkzeug.security import check_password_hash, generate_password_hash

    password_hash = generate_password_hash(PASSWORD, method=method)
    started = clock.perf_counter()
    for _ in range(times):
        check_password_hash(password_hash, PASSWORD)
    return (clock.perf_counter() - started) / times * 1000


def shares(total: int, parts: int) -> list[int]:
    """total split into parts as evenly as possible."""
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def local_time(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(TIMEZONE))


def build_city(app: Flask, schools: int, students: int, devices: int, log=print) -> City:
    """Create the schools with their plans, students and devices, one transaction per school."""
    import time as clock

    from sqlalchemy import insert, select, update
    from werkzeug.security import generate_password_hash

    from mdm.accounts.models import School, User
    from mdm.devices import identity
    from mdm.devices.models import Device as DeviceRow
    from mdm.devices.models import DeviceCredential
    from mdm.extensions import db
    from mdm.platform.actors import Actor
    from schedules import demo_gpu, import_service
    from schedules.models import SchoolClass, Substitution

    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    monday = today - timedelta(days=today.weekday())
    yesterday = datetime.now(UTC) - timedelta(days=1)
    password_hash = generate_password_hash(PASSWORD, method=PASSWORD_METHOD)
    # When the substitutions appeared: most with the import of the afternoon before, some with
    # three updates this morning, so that students' `since` values mark different entries.
    change_times = {
        7: local_time(today, 6, 30),
        8: local_time(today, 7, 10),
        9: local_time(today, 7, 25),
    }
    afternoon_import = local_time(today - timedelta(days=1), 15, 0)
    files_cache: dict[tuple[int, int], dict[str, bytes]] = {}
    seconds = {"plans": 0.0, "students": 0.0, "devices": 0.0}
    city = City([], [], [], {}, seconds)
    student_shares = shares(students, schools)
    device_shares = shares(devices, schools)
    with app.app_context():
        for n in range(schools):
            started = clock.perf_counter()
            school = School(slug=f"morning-{n:03d}", name=f"Morgenschule {n}", timezone=TIMEZONE)
            db.session.add(school)
            db.session.flush()
            school_id = school.id
            classes = max(1, round(student_shares[n] / STUDENTS_PER_CLASS))
            key = (n % PLAN_VARIANTS, classes)
            if key not in files_cache:
                files_cache[key] = demo_gpu.generate_school(
                    100 + key[0],
                    classes=classes,
                    teachers=2 * classes,
                    start=monday,
                    days=10,
                    substitutions_per_day=max(10, round(6.5 * classes)),
                )
            import_service.import_files(
                db.session, Actor.system("bench"), school_id, files_cache[key], "untis-gpu"
            )
            db.session.execute(
                update(Substitution)
                .where(Substitution.school_id == school_id)
                .values(changed_at=afternoon_import)
                .execution_options(synchronize_session=False)
            )
            for remainder, changed_at in change_times.items():
                db.session.execute(
                    update(Substitution)
                    .where(Substitution.school_id == school_id, Substitution.id % 10 == remainder)
                    .values(changed_at=changed_at)
                    .execution_options(synchronize_session=False)
                )
            class_names = sorted(
                db.session.scalars(
                    select(SchoolClass.name).where(SchoolClass.school_id == school_id)
                )
            )
            city.classes[school_id] = len(class_names)
            seconds["plans"] += clock.perf_counter() - started

            started = clock.perf_counter()
            db.session.execute(
                insert(User),
                [
                    {
                        "username": f"m{n:03d}.s{k:05d}",
                        "role": "student",
                        "school_id": school_id,
                        "first_name": "",
                        "last_name": f"Schüler {k}",
                        "email": None,
                        "class_name": class_names[k % len(class_names)],
                        "password_hash": password_hash,
                        "active": True,
                        "created_at": yesterday,
                    }
                    for k in range(student_shares[n])
                ],
            )
            rows = db.session.execute(
                select(User.id, User.username)
                .where(User.school_id == school_id)
                .order_by(User.username)
            )
            city.students += [Student(row.id, row.username, school_id) for row in rows]
            seconds["students"] += clock.perf_counter() - started

            started = clock.perf_counter()
            count = device_shares[n]
            if count:
                db.session.execute(
                    insert(DeviceRow),
                    [
                        {
                            "school_id": school_id,
                            "ownership": "school",
                            "platform": "android",
                            "model": "Bench Tablet",
                            "os_version": "14",
                            "name": f"tablet-{n:03d}-{k:05d}",
                            "user_role": "shared",
                            "user_id": None,
                            "status": "enrolled",
                            "enrolled_at": yesterday,
                            "inventory": {},
                            "inventory_hash": "",
                            "config_version": 1,
                        }
                        for k in range(count)
                    ],
                )
                ids = db.session.execute(
                    select(DeviceRow.id)
                    .where(DeviceRow.school_id == school_id)
                    .order_by(DeviceRow.name)
                ).scalars()
                secrets = [identity.new_device_secret() for _ in range(count)]
                db.session.execute(
                    insert(DeviceCredential),
                    [
                        {
                            "school_id": school_id,
                            "device_id": device_id,
                            "lookup_key": identity.device_lookup_key(secret),
                            "secret_hash": identity.hash_secret(secret),
                            "created_at": yesterday,
                        }
                        for device_id, secret in zip(ids, secrets, strict=True)
                    ],
                )
                city.devices += [Device(secret, school_id) for secret in secrets]
            db.session.commit()
            seconds["devices"] += clock.perf_counter() - started
            city.school_ids.append(school_id)
            if schools >= 10 and (n + 1) % 10 == 0:
                log(f"  set-up: {n + 1} of {schools} schools")
    return city


def _iso(when: datetime) -> str:
    """A time as the panel page sends it in `since` (JavaScript's toISOString), URL-encoded."""
    text = when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return quote(text, safe="")


class Mornings:
    """Mornings of the city, one after another: in each, every student logs in anew (a new
    access token; the app's access tokens last 15 minutes) and opens the panel 1-4 times, and
    every device checks in once or twice, at times of their own. All mornings happen on today's
    date (the server's plan is today's), each with its own times and tokens."""

    def __init__(self, app: Flask, city: City, seed: int) -> None:
        self.app = app
        self.city = city
        self.seed = seed
        self.count = 0
        self.token_seconds = 0.0
        self.today = datetime.now(ZoneInfo(TIMEZONE)).date()

    def _tokens(self) -> list[str]:
        """A new access token for every student, as a login hands it out."""
        import time as clock

        from flask_jwt_extended import create_access_token

        started = clock.perf_counter()
        with self.app.app_context():
            tokens = [
                create_access_token(
                    identity=str(student.user_id), additional_claims={"rjti": uuid.uuid4().hex}
                )
                for student in self.city.students
            ]
        self.token_seconds += clock.perf_counter() - started
        return tokens

    def next(self, kinds: frozenset[str]) -> list[Line]:
        """The next morning's requests of these kinds, in the order of the simulated clock."""
        morning = self.count
        self.count += 1
        rng = random.Random(self.seed * 100_003 + morning)
        seven = local_time(self.today, 7, 0)
        yesterday = self.today - timedelta(days=1)
        timed: list[tuple[float, Line]] = []
        if kinds & PANEL_KINDS:
            tokens = self._tokens()
            for who, student in enumerate(self.city.students):
                opens = rng.choices((1, 2, 3, 4), weights=OPENS_WEIGHTS)[0]
                pauses = [rng.uniform(*PAUSE_SECONDS) for _ in range(opens - 1)]
                at = rng.uniform(0, MORNING_SECONDS - sum(pauses))
                # The first open's `since`: when the page was last opened, the evening or the
                # morning before; later opens send the time of the previous one.
                if rng.random() < 0.5:
                    seen = local_time(yesterday, 17, 0) + timedelta(seconds=rng.uniform(0, 19800))
                else:
                    seen = local_time(yesterday, 7, 0) + timedelta(seconds=rng.uniform(0, 2700))
                for number in range(opens):
                    if number:
                        at += pauses[number - 1]
                    kind = FIRST_OPEN if number == 0 else LATER_OPEN
                    text = f"{kind} {student.school_id} {tokens[who]} {_iso(seen)}"
                    line = Line(kind, who, student.school_id, morning, at, text)
                    timed.append((at, line))
                    seen = seven + timedelta(seconds=at)
        if CHECK_IN in kinds:
            for who, device in enumerate(self.city.devices):
                at = rng.uniform(0, MORNING_SECONDS)
                battery = rng.randint(35, 100)
                storage = rng.randint(2_000, 30_000)
                # When the tablet wakes up, and once more after the agent's interval if that
                # is still before 07:45 (the inventory changed: the battery ran down).
                for again in (False, True):
                    if again:
                        at += CHECK_IN_SECONDS
                        battery -= rng.randint(1, 4)
                        if at >= MORNING_SECONDS:
                            break
                    text = f"{CHECK_IN} {device.secret} {battery} {storage}"
                    timed.append((at, Line(CHECK_IN, who, device.school_id, morning, at, text)))
        timed.sort(key=lambda pair: pair[0])
        return [line for _at, line in timed]

    def logins(self, passes: Iterator[int]) -> Callable[[], list[Line]]:
        """Login passes: every student once, in a new random order each pass."""

        def one_pass() -> list[Line]:
            number = next(passes)
            rng = random.Random(self.seed * 7919 + number)
            order = list(range(len(self.city.students)))
            rng.shuffle(order)
            return [
                Line(
                    LOGIN,
                    who,
                    self.city.students[who].school_id,
                    number,
                    0.0,
                    f"{LOGIN} {self.city.students[who].username}",
                )
                for who in order
            ]

        return one_pass


@dataclass(frozen=True)
class RunLines:
    """What one run sent of a list: requests, panel opens, how many of those were the first
    request of their token (cold), and the simulated moments of its first and last line."""

    requests: int
    panel: int
    cold: int
    first: tuple[int, float]  # (morning of the list, from 0; seconds after 07:00)
    last: tuple[int, float]

    def window(self) -> str:
        """The stretch of the simulated mornings the run covered."""
        return f"{moment(self.first)}-{moment(self.last)}"


def moment(when: tuple[int, float]) -> str:
    """A moment of the simulated mornings, e.g. "m1 07:08:31" (morning 1)."""
    morning, seconds = when
    minutes, second = divmod(int(seconds), 60)
    return f"m{morning + 1} {7 + minutes // 60:02d}:{minutes % 60:02d}:{second:02d}"


class RequestList:
    """A list file of fixed-width lines that bench/morning.lua sends in order: wrk thread k of
    n sends lines k, k+n, k+2n, ... and each run continues where the previous one stopped; more
    mornings are appended between runs, so the list never runs out (it wraps around only if a
    run outruns what was appended, which the report shows)."""

    def __init__(self, path: Path, threads: int, more: Callable[[], list[Line]]) -> None:
        self.path = path
        self.threads = threads
        self.more = more
        self.width = 0
        self.lines: list[Line] = []
        self.positions = [0] * threads
        self.issued: list[int] = []  # line numbers, in the order of the runs
        self.wrapped = 0
        self.skipped = 0
        self.runs: list[RunLines] = []
        self._tokens: set[tuple[int, int]] = set()
        path.write_bytes(b"")

    def _append(self, lines: list[Line]) -> None:
        if not self.width:
            self.width = max(len(line.text) for line in lines) + 33
        with self.path.open("a", encoding="ascii") as out:
            for line in lines:
                if len(line.text) >= self.width:
                    raise ValueError(f"line longer than the list's width {self.width}")
                out.write(line.text.ljust(self.width - 1) + "\n")
        self.lines += [Line(li.kind, li.who, li.school_id, li.morning, li.at, "") for li in lines]

    def ensure(self, per_thread: int) -> None:
        """Append until every wrk thread has at least per_thread lines ahead of it."""
        while min(self._ahead(k) for k in range(self.threads)) < per_thread:
            self._append(self.more())

    def _ahead(self, k: int) -> int:
        first = k + self.threads * self.positions[k]
        return max(0, -(-(len(self.lines) - first) // self.threads))

    def script_args(self, positions_file: Path, verify: bool) -> list[str]:
        return [
            str(self.path),
            str(self.width),
            str(self.threads),
            ",".join(map(str, self.positions)),
            str(positions_file),
            PASSWORD,
            "verify" if verify else "measure",
        ]

    def after_run(self, positions_file: Path) -> dict[str, int]:
        """Take the threads' new positions; return the statuses the run counted (verify)."""
        statuses: dict[str, int] = {}
        start_of_run = len(self.issued)
        for row in positions_file.read_text().splitlines():
            fields = row.split("\t")
            k, position = int(fields[0]), int(fields[1])
            # wrk takes the first request of thread 0 to check the script and never sends it.
            start = self.positions[k] + (1 if k == 0 else 0)
            for j in range(start, position):
                number = k + self.threads * j
                if number >= len(self.lines):
                    self.wrapped += 1
                self.issued.append(number % len(self.lines))
            self.positions[k] = position
            for item in fields[2:]:
                name, _, count = item.rpartition("=")
                statuses[name] = statuses.get(name, 0) + int(count)
        # The next run starts all threads together where the furthest one stopped, so that they
        # do not drift apart in the morning's time; the lines a slower thread leaves behind are
        # skipped, never sent later.
        furthest = max(self.positions)
        self.skipped += sum(furthest - position for position in self.positions)
        self.positions = [furthest] * self.threads
        self.runs.append(self._run_lines(sorted(self.issued[start_of_run:])))
        return statuses

    def _run_lines(self, numbers: list[int]) -> "RunLines":
        panel = [self.lines[n] for n in numbers if self.lines[n].kind in PANEL_KINDS]
        tokens = {(line.morning, line.who) for line in panel}
        cold = len(tokens - self._tokens)
        self._tokens |= tokens
        if not numbers:
            return RunLines(0, 0, 0, (0, 0.0), (0, 0.0))
        first, last = self.lines[numbers[0]], self.lines[numbers[-1]]
        base = self.lines[0].morning  # mornings counted from this list's first
        return RunLines(
            len(numbers),
            len(panel),
            cold,
            (first.morning - base, first.at),
            (last.morning - base, last.at),
        )

    def summary(self, since: int = 0) -> dict[str, int]:
        """What the lines issued (from issued[since] on) reached."""
        lines = [self.lines[n] for n in self.issued[since:]]
        panel = [li for li in lines if li.kind in PANEL_KINDS]
        return {
            "requests": len(lines),
            "replayed": len(self.issued[since:]) - len(set(self.issued[since:])),
            "skipped": self.skipped,
            "panel": len(panel),
            "first_opens": sum(li.kind == FIRST_OPEN for li in panel),
            "students": len({li.who for li in panel}),
            # A token's first request is one the server has never seen (the login check and
            # the query string are cold); each of a student's mornings has its own token.
            "tokens": len({(li.morning, li.who) for li in panel}),
            "schools": len({li.school_id for li in panel}),
            "check_ins": sum(li.kind == CHECK_IN for li in lines),
            "devices": len({li.who for li in lines if li.kind == CHECK_IN}),
            "logins": sum(li.kind == LOGIN for li in lines),
            "login_users": len({li.who for li in lines if li.kind == LOGIN}),
            "mornings": len({li.morning for li in lines}),
        }
