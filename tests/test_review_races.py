"""Review cases under concurrent decisions (in-process, on the test's own SQLite store).

Two reviewers deciding the same case at once must be serialized: a case takes no decision once
it is settled, so a confirmation racing a rejection can never release the identity after the
rejection closed the case (found against a live server: 3 of 15 cases ended CONFIRMED, their
identity released, with a REJECT recorded first), and an expiry racing a decision cannot undo it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oversight.errors import ResourceInUseException
from oversight.review import cases

ACCOUNT = "123456789012"

# Each race holds one decision up to 2 s while the other runs.
pytestmark = pytest.mark.slow


def _case(reviewers: int) -> str:
    return cases.open_case(cases.NewCase(
        account_id=ACCOUNT, requester_key="AKIAREQUESTER0000001", purpose="case 7",
        operation="SearchFacesByImage", request_id=None, collection_id="watch",
        withheld={"FaceMatches": []}, candidates=[], probe_crop=b"jpeg", probe_source=None,
        reviewers_required=reviewers, expires_at=datetime.now(UTC) + timedelta(hours=1),
    ), lambda _: None)


class Race:
    """`first` reads the case and stops there (at its expiry check) while `second` runs; after
    `second` has ended or waited 2 s for `first`, `first` goes on. Whatever the timing, the old
    code let both decide; serialized, the second sees the first's outcome."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached, self.go_on = threading.Event(), threading.Event()
        self.held: threading.Thread | None = None
        aware = cases._aware

        def pausing(value: datetime) -> datetime:
            if threading.current_thread() is self.held and not self.go_on.is_set():
                self.reached.set()
                self.go_on.wait(30)
            return aware(value)

        monkeypatch.setattr(cases, "_aware", pausing)

    def run(self, first: Callable[[], Any], second: Callable[[], Any]) -> list[Any]:
        outcomes: list[Any] = [None, None]

        def keep(index: int, call: Callable[[], Any]) -> Callable[[], None]:
            def run() -> None:
                try:
                    outcomes[index] = call()
                except Exception as error:  # noqa: BLE001 (the test asserts which one)
                    outcomes[index] = error
            return run

        self.held = threading.Thread(target=keep(0, first))
        self.held.start()
        assert self.reached.wait(30), "the first call never read the case"
        other = threading.Thread(target=keep(1, second))
        other.start()
        other.join(2)
        self.go_on.set()
        for thread in (self.held, other):
            thread.join(60)
        return outcomes


@pytest.fixture
def race(monkeypatch: pytest.MonkeyPatch) -> Iterator[Race]:
    racing = Race(monkeypatch)
    yield racing
    racing.go_on.set()


def _decide(case_id: str, reviewer: str, decision: str) -> Callable[[], cases.Case]:
    return lambda: cases.decide(ACCOUNT, case_id, reviewer, decision, "compared side by side",
                                lambda _: None)


@pytest.mark.parametrize("first,second", [("CONFIRM", "REJECT"), ("REJECT", "CONFIRM")])
def test_a_settled_case_takes_no_racing_decision(race: Race, first: str, second: str) -> None:
    case_id = _case(reviewers=1)
    won, lost = race.run(_decide(case_id, "AKIAALICE00000000001", first),
                         _decide(case_id, "AKIABOB0000000000001", second))
    assert isinstance(won, cases.Case), won
    assert isinstance(lost, ResourceInUseException), lost
    settled = cases.get_case(ACCOUNT, case_id)
    assert settled.status == ("CONFIRMED" if first == "CONFIRM" else "REJECTED")
    assert [d.decision for d in settled.decisions] == [first]


def test_two_racing_confirmations_settle_a_case_needing_two(race: Race) -> None:
    case_id = _case(reviewers=2)
    race.run(_decide(case_id, "AKIAALICE00000000001", "CONFIRM"),
             _decide(case_id, "AKIABOB0000000000001", "CONFIRM"))
    settled = cases.get_case(ACCOUNT, case_id)
    assert (settled.status, settled.confirmations) == ("CONFIRMED", 2)


def test_an_expiry_racing_a_decision_does_not_undo_it(race: Race) -> None:
    case_id = _case(reviewers=1)
    expired: list[cases.Case] = []
    decided, swept = race.run(_decide(case_id, "AKIAALICE00000000001", "CONFIRM"),
                              lambda: cases.expire_due(datetime.now(UTC) + timedelta(days=1),
                                                       expired.append, expired.append))
    assert isinstance(decided, cases.Case) and decided.status == "CONFIRMED"
    assert isinstance(swept, int), swept
    assert cases.get_case(ACCOUNT, case_id).status == "CONFIRMED" and expired == []
