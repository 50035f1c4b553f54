"""The in-memory counter store: sliding logs, leases, period totals, all-or-nothing."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.limits.memory import MemoryCounterStore
from bastion.limits.store import Granted, Hold, HoldKind, Refused, Restored


def window(key: str = "w", limit: int = 3, amount: int = 1, span: float = 60.0) -> Hold:
    return Hold(key, HoldKind.WINDOW, limit, amount, span)


def test_sliding_window_admits_exactly_the_limit_in_any_window() -> None:
    store = MemoryCounterStore()
    assert all(isinstance(store.take_now([window()], t), Granted) for t in (0.0, 10.0, 20.0))
    refused = store.take_now([window()], 59.9)
    assert isinstance(refused, Refused) and refused.used == 3
    assert math.isclose(refused.retry_after_s, 0.1, abs_tol=1e-9)  # the entry at 0 leaves at 60
    assert isinstance(store.take_now([window()], 60.0), Granted)  # (0, 60]: 0 has left
    assert isinstance(store.take_now([window()], 69.9), Refused)


def test_weighted_window_waits_until_enough_weight_leaves() -> None:
    store = MemoryCounterStore()
    store.take_now([window(limit=100, amount=40)], 0.0)
    store.take_now([window(limit=100, amount=40)], 30.0)
    refused = store.take_now([window(limit=100, amount=50)], 31.0)
    assert isinstance(refused, Refused) and math.isclose(refused.retry_after_s, 29.0)
    never = store.take_now([window(limit=100, amount=101)], 31.0)
    assert isinstance(never, Refused) and math.isinf(never.retry_after_s)


def test_settling_a_window_entry_replaces_its_weight() -> None:
    store = MemoryCounterStore()
    granted = store.take_now([window(limit=100, amount=90)], 0.0)
    assert isinstance(granted, Granted) and granted.remaining == (10,)
    store.settle_now(granted.ticket, [20])
    assert store.used("w", 1.0) == 20
    assert isinstance(store.take_now([window(limit=100, amount=80)], 1.0), Granted)


def test_settling_after_the_entry_left_the_window_changes_nothing() -> None:
    store = MemoryCounterStore()
    granted = store.take_now([window(limit=100, amount=90)], 0.0)
    assert isinstance(granted, Granted)
    store.take_now([window(limit=100, amount=5)], 61.0)  # purges the first entry
    store.settle_now(granted.ticket, [20])
    assert store.used("w", 61.0) == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.integers(1, 4)), min_size=1, max_size=60))
def test_no_window_ever_holds_more_than_the_limit(steps: list[tuple[float, int]]) -> None:
    store = MemoryCounterStore()
    now, admitted = 0.0, []
    for gap, amount in steps:
        now += gap
        if isinstance(store.take_now([window(limit=6, amount=amount, span=10.0)], now), Granted):
            admitted.append((now, amount))
        else:  # refused only when it really did not fit
            held = sum(a for t, a in admitted if t > now - 10.0)
            assert held + amount > 6
    for t, _ in admitted:
        assert sum(a for u, a in admitted if t - 10.0 < u <= t) <= 6


def test_leases_free_themselves_after_their_ttl() -> None:
    store = MemoryCounterStore()
    lease = Hold("c", HoldKind.LEASE, 2, 1, 30.0)
    first = store.take_now([lease], 0.0)
    assert isinstance(first, Granted)
    assert isinstance(store.take_now([lease], 1.0), Granted)
    refused = store.take_now([lease], 2.0)
    assert isinstance(refused, Refused) and math.isclose(refused.retry_after_s, 28.0)
    assert isinstance(store.take_now([lease], 30.0), Granted)  # the first one expired
    store.settle_now(first.ticket, [None])  # releasing an expired lease is harmless
    assert store.used("c", 30.0) == 2


def test_a_released_lease_frees_its_slot() -> None:
    store = MemoryCounterStore()
    lease = Hold("c", HoldKind.LEASE, 1, 1, 30.0)
    granted = store.take_now([lease], 0.0)
    assert isinstance(granted, Granted)
    assert isinstance(store.take_now([lease], 0.0), Refused)
    store.settle_now(granted.ticket, [None])
    assert isinstance(store.take_now([lease], 0.0), Granted)


def test_a_take_over_many_counters_is_all_or_nothing() -> None:
    store = MemoryCounterStore()
    budget = Hold("b", HoldKind.TOTAL, 100, 60, 3600.0)
    assert isinstance(store.take_now([window(limit=5), budget], 0.0), Granted)
    refused = store.take_now([window(limit=5), Hold("c", HoldKind.LEASE, 9, 1, 9.0), budget], 1.0)
    assert isinstance(refused, Refused) and refused.index == 2 and refused.used == 60
    assert store.used("w", 1.0) == 1 and store.used("c", 1.0) == 0  # nothing else taken


HOLDS = st.lists(
    st.tuples(
        st.sampled_from([("w", HoldKind.WINDOW), ("c", HoldKind.LEASE), ("b", HoldKind.TOTAL)]),
        st.integers(0, 4),  # limit
        st.integers(1, 3),  # amount (a lease always takes 1)
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda hold: hold[0][0],
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 3), HOLDS), min_size=1, max_size=40))
def test_a_refused_take_leaves_every_counter_as_it_was(
    takes: list[tuple[float, list[tuple[tuple[str, HoldKind], int, int]]]],
) -> None:
    store = MemoryCounterStore()
    now = 0.0
    for gap, spec in takes:
        now += gap
        holds = [
            Hold(key, kind, limit, 1 if kind is HoldKind.LEASE else amount, 10.0)
            for (key, kind), limit, amount in spec
        ]
        before = {key: store.used(key, now) for key in "wcb"}
        result = store.take_now(holds, now)
        after = {key: store.used(key, now) for key in "wcb"}
        if isinstance(result, Refused):
            assert after == before
            refused = holds[result.index]
            assert before[refused.key] + refused.amount > refused.limit
        else:
            taken = {hold.key: hold.amount for hold in holds}
            assert after == {key: before[key] + taken.get(key, 0) for key in "wcb"}
            assert all(after[hold.key] <= hold.limit for hold in holds)


def test_period_totals_settle_to_actual_and_restore_adds() -> None:
    store = MemoryCounterStore()
    budget = Hold("b", HoldKind.TOTAL, 100, 60, 3600.0)
    granted = store.take_now([budget], 0.0)
    assert isinstance(granted, Granted)
    store.settle_now(granted.ticket, [25])
    assert store.used("b", 1.0) == 25
    store.settle_now(granted.ticket, [30])  # a second settle moves from the last amount
    assert store.used("b", 1.0) == 30


async def test_restore_seeds_windows_and_totals_until_they_end() -> None:
    store = MemoryCounterStore()
    assert await store.restore(
        [
            Restored("w", HoldKind.WINDOW, 60.0, 5, at=10.0),
            Restored("b", HoldKind.TOTAL, 3600.0, 70, at=0.0),
        ]
    )
    assert store.used("w", 20.0) == 5 and store.used("w", 70.0) == 0
    assert isinstance(await store.take([Hold("b", HoldKind.TOTAL, 100, 31, 3600.0)], 1.0), Refused)
    store.sweep(3599.0)
    assert store.used("b", 3599.0) == 70  # kept until the period ends
    store.sweep(3600.0)
    assert store.used("b", 3600.0) == 0
