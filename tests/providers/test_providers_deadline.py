"""Deadline: behaves as ``asyncio.timeout_at`` (expiry, a deadline already past, a
cancellation of someone else's during expiry, use outside a task)."""

from __future__ import annotations

import asyncio

import pytest

from bastion.providers.deadline import Deadline, deadline_in


async def test_a_block_done_in_time_is_left_alone():
    loop = asyncio.get_running_loop()
    with Deadline(loop.time() + 5):
        await asyncio.sleep(0)
    await asyncio.sleep(0.02)  # the timer was cancelled: nothing fires later
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_block_past_its_deadline_raises_timeout_error():
    with pytest.raises(TimeoutError) as caught, deadline_in(0.01):
        await asyncio.sleep(5)
    assert isinstance(caught.value.__cause__, asyncio.CancelledError)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_deadline_already_past_fires_on_the_next_turn():
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError), Deadline(loop.time() - 1):
        await asyncio.sleep(0)
        pytest.fail("the block went on past its first await")


async def test_an_expired_block_that_ends_without_awaiting_again_raises_nothing():
    loop = asyncio.get_running_loop()
    with Deadline(loop.time() - 1):
        pass  # never suspended: the timer had no chance to cancel anything
    await asyncio.sleep(0)  # and it is cancelled, so this turn cancels nothing


async def test_another_cancellation_during_expiry_is_passed_on():
    async def guarded() -> None:
        with deadline_in(0.01):
            try:
                await asyncio.sleep(5)
            finally:
                task.cancel()  # someone else cancels too, as the deadline fires
                await asyncio.sleep(0)

    task = asyncio.create_task(guarded())
    with pytest.raises(asyncio.CancelledError):
        await task


def test_outside_a_task_is_refused():
    with pytest.raises(RuntimeError):  # no running loop, so no task
        Deadline(0.0)
