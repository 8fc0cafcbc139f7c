"""The worker cache: facts bounded by use, remembered answers aged by the cache's clock and
forgotten after a commit."""

import threading

from flask import Flask

from mdm.extensions import db
from mdm.platform.cache import Facts, WorkerCache, forget_after_commit
from tests.conftest import Clock


def test_facts_forget_the_least_recently_used_beyond_their_size() -> None:
    facts: Facts[str, int] = Facts(2)
    facts.put("a", 1)
    facts.put("b", 2)
    assert facts.get("a") == 1  # a is used again, so b is the oldest now
    facts.put("c", 3)
    assert (facts.get("a"), facts.get("b"), facts.get("c")) == (1, None, 3)


def test_a_remembered_answer_is_read_again_after_the_check_interval() -> None:
    clock = Clock()
    states = WorkerCache(1.0, clock).remembered("states", 10)
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return len(reads)

    assert states.get_or_read("school", read) == 1
    clock.advance(1.0)
    assert states.get_or_read("school", read) == 1  # exactly the interval old: still good
    clock.advance(0.01)
    assert states.get_or_read("school", read) == 2


def test_nothing_is_remembered_with_a_check_interval_of_zero() -> None:
    states = WorkerCache(0, Clock()).remembered("states", 10)
    assert [states.get_or_read("school", lambda n=n: n) for n in range(3)] == [0, 1, 2]


def test_an_answer_forgotten_while_it_was_read_is_not_kept() -> None:
    states = WorkerCache(60, Clock()).remembered("states", 10)
    reading = threading.Event()

    def read_while_a_commit_forgets() -> str:
        reading.set()
        states.forget("school")  # a commit of this worker changed the school meanwhile
        return "old"

    assert states.get_or_read("school", read_while_a_commit_forgets) == "old"
    assert reading.is_set()
    assert states.get_or_read("school", lambda: "new") == "new"


def test_the_committing_worker_forgets_after_its_commit_and_not_before(app: Flask) -> None:
    states = app.extensions["mdm_cache"].remembered("states", 10)
    states.get_or_read("school", lambda: "before")
    forget_after_commit(db.session, lambda: states.forget("school"))
    assert states.get_or_read("school", lambda: "during") == "before"
    db.session.commit()
    assert states.get_or_read("school", lambda: "after") == "after"


def test_stores_are_made_once_per_name_and_cleared_together(app: Flask) -> None:
    cache = app.extensions["mdm_cache"]
    cache.facts("things", 5).put("a", 1)
    assert cache.facts("things", 5).get("a") == 1
    cache.clear()
    assert cache.facts("things", 5).get("a") is None
