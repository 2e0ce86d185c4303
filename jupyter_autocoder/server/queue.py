"""A fair queue in front of the one model: requests wait in lanes served in turn.

A lane is whoever asks (a notebook's agent session, a kernel's connection, a user); a lane
that sends many requests does not delay the others: after one of its requests is served, the
next lane in line goes first. A waiter that is cancelled (the client went away, the user
pressed stop) leaves its lane at once.

Inline completions are a class of their own (`acquire_priority`): they go before every lane,
and one that cannot start within its short budget is dropped (`QueueBusyError`), never left
waiting, since a completion that arrives after the user typed on is worthless. Where the
engine has a lane for them (the local worker's completion context), they use
`priority_slots` of their own and never wait for a chat answer; otherwise they take the
next free ordinary slot, ahead of the lanes.

It lives on the event loop: `acquire` and `release` are called from the loop's thread only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..errors import QueueBusyError


@dataclass(eq=False)
class Ticket:
    """A place in the queue, then a slot being used."""

    lane: str
    future: asyncio.Future[None] = field(repr=False)
    priority: bool = False
    own_slot: bool = False  # a priority ticket for the engine's completion lane


class FairQueue:
    """Round-robin over lanes, first come first served within a lane, `slots` at a time."""

    def __init__(self, slots: int = 1, priority_slots: int = 1):
        if slots < 1:
            raise ValueError("a queue needs at least one slot")
        self.slots = slots
        self.priority_slots = max(0, priority_slots)
        self._lanes: OrderedDict[str, deque[Ticket]] = OrderedDict()
        self._active: set[Ticket] = set()
        self._priority: deque[Ticket] = deque()
        self._active_priority: set[Ticket] = set()
        self.dropped = 0

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot (the queue depth)."""
        return sum(len(lane) for lane in self._lanes.values()) + len(self._priority)

    @property
    def active(self) -> int:
        """Requests being served now."""
        return len(self._active) + len(self._active_priority)

    def position(self, ticket: Ticket) -> int:
        """How many waiting requests would be served before this one (0: next)."""
        lanes = [list(lane) for lane in self._lanes.values()]
        order: list[Ticket] = []
        depth = 0
        while any(depth < len(lane) for lane in lanes):
            order.extend(lane[depth] for lane in lanes if depth < len(lane))
            depth += 1
        return order.index(ticket) if ticket in order else 0

    def status(self) -> dict[str, int]:
        return {"waiting": self.waiting, "active": self.active, "slots": self.slots}

    def enqueue(self, lane: str) -> Ticket:
        """Take a place in `lane`; await `ticket.future` for the slot (or use `acquire`)."""
        ticket = Ticket(lane, asyncio.get_running_loop().create_future())
        self._lanes.setdefault(lane, deque()).append(ticket)
        self._dispatch()
        return ticket

    async def acquire(self, lane: str) -> Ticket:
        """Wait for a slot. Cancelling the waiting task removes it from the queue at once."""
        ticket = self.enqueue(lane)
        try:
            await ticket.future
        except BaseException:
            self.release(ticket)
            raise
        return ticket

    async def acquire_priority(self, lane: str, budget: float, own_slot: bool = False) -> Ticket:
        """A slot for an inline completion, ahead of every lane: its own (`own_slot`, the
        engine's completion lane) or the next ordinary one. Raises QueueBusyError when none
        is free within `budget` seconds: the request is dropped, not queued."""
        ticket = Ticket(
            lane,
            asyncio.get_running_loop().create_future(),
            priority=True,
            own_slot=own_slot and self.priority_slots > 0,
        )
        self._priority.append(ticket)
        self._dispatch()
        try:
            await asyncio.wait_for(asyncio.shield(ticket.future), max(0.0, budget))
        except asyncio.TimeoutError:
            self.release(ticket)
            self.dropped += 1
            raise QueueBusyError(
                f"the model is busy: no slot within {budget:.2f} s, the completion was dropped"
            ) from None
        except BaseException:
            self.release(ticket)
            raise
        return ticket

    def release(self, ticket: Ticket) -> None:
        """Give the slot back (or leave the queue, when still waiting); safe to call twice."""
        if ticket in self._active:
            self._active.discard(ticket)
        elif ticket in self._active_priority:
            self._active_priority.discard(ticket)
        elif ticket in self._priority:
            self._priority.remove(ticket)
        else:
            lane = self._lanes.get(ticket.lane)
            if lane is not None and ticket in lane:
                lane.remove(ticket)
                if not lane:
                    del self._lanes[ticket.lane]
        if not ticket.future.done():
            ticket.future.cancel()
        self._dispatch()

    @asynccontextmanager
    async def slot(self, lane: str) -> AsyncIterator[Ticket]:
        ticket = await self.acquire(lane)
        try:
            yield ticket
        finally:
            self.release(ticket)

    def _dispatch(self) -> None:
        for ticket in list(self._priority):
            if ticket.future.done():
                self._priority.remove(ticket)
            elif ticket.own_slot and len(self._active_priority) < self.priority_slots:
                self._priority.remove(ticket)
                self._active_priority.add(ticket)
                ticket.future.set_result(None)
            elif not ticket.own_slot and len(self._active) < self.slots:
                self._priority.remove(ticket)
                self._active.add(ticket)
                ticket.future.set_result(None)
        while len(self._active) < self.slots and self._lanes:
            lane_name, lane = next(iter(self._lanes.items()))
            ticket = lane.popleft()
            # The lane just served goes to the back of the line.
            del self._lanes[lane_name]
            if lane:
                self._lanes[lane_name] = lane
            if ticket.future.done():  # cancelled while waiting: skip it
                continue
            self._active.add(ticket)
            ticket.future.set_result(None)
