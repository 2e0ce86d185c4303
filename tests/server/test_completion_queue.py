"""The queue's completion class: first in line, its own slot where the engine has a lane,
and dropped (never left waiting) when it cannot start within its budget."""

from __future__ import annotations

import asyncio
import time

import pytest

from jupyter_autocoder.errors import QueueBusyError
from jupyter_autocoder.server.queue import FairQueue


async def test_a_completion_with_its_own_slot_starts_while_a_chat_answer_streams():
    queue = FairQueue(slots=1, priority_slots=1)
    chat = await queue.acquire("notebook:a.ipynb")  # an agent answer holds the model
    started = time.perf_counter()
    ticket = await queue.acquire_priority("user:editor-1", budget=0.3, own_slot=True)
    assert time.perf_counter() - started < 0.05
    assert queue.status()["active"] == 2
    queue.release(ticket)
    queue.release(chat)
    assert queue.status() == {"waiting": 0, "active": 0, "slots": 1}
    assert queue.dropped == 0


async def test_without_a_lane_a_busy_engine_drops_the_completion_after_its_budget():
    queue = FairQueue(slots=1, priority_slots=1)
    chat = await queue.acquire("notebook:a.ipynb")
    started = time.perf_counter()
    with pytest.raises(QueueBusyError, match="dropped"):
        await queue.acquire_priority("user:editor-1", budget=0.2, own_slot=False)
    waited = time.perf_counter() - started
    assert 0.15 < waited < 0.6
    assert queue.waiting == 0  # not left in the queue
    assert queue.dropped == 1
    queue.release(chat)
    assert queue.active == 0


async def test_a_completion_goes_before_every_waiting_lane():
    queue = FairQueue(slots=1, priority_slots=0)
    running = await queue.acquire("notebook:a.ipynb")
    waiting_chat = asyncio.ensure_future(queue.acquire("notebook:b.ipynb"))
    await asyncio.sleep(0)
    completion = asyncio.ensure_future(queue.acquire_priority("user:editor", budget=1.0))
    await asyncio.sleep(0.05)
    queue.release(running)  # the slot frees: the completion gets it, not the chat that came first
    ticket = await asyncio.wait_for(completion, 1)
    assert not waiting_chat.done()
    queue.release(ticket)
    chat_ticket = await asyncio.wait_for(waiting_chat, 1)
    queue.release(chat_ticket)


async def test_the_completion_slot_is_one_at_a_time():
    queue = FairQueue(slots=1, priority_slots=1)
    first = await queue.acquire_priority("user:a", budget=0.1, own_slot=True)
    # The lane serves one completion at a time: a second one (another editor) is dropped.
    with pytest.raises(QueueBusyError):
        await queue.acquire_priority("user:b", budget=0.1, own_slot=True)
    queue.release(first)
    second = await queue.acquire_priority("user:b", budget=0.1, own_slot=True)
    queue.release(second)


async def test_a_cancelled_completion_leaves_the_queue_at_once():
    queue = FairQueue(slots=1, priority_slots=0)
    chat = await queue.acquire("notebook:a.ipynb")
    waiter = asyncio.ensure_future(queue.acquire_priority("user:a", budget=5.0))
    await asyncio.sleep(0.02)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert queue.waiting == 0
    queue.release(chat)
    assert queue.active == 0
