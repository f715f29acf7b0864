"""Deterministic, streamable generation: records are made one UTC day at a time.

A benchmark-scale organisation (about a million workflow runs) must never sit in memory at
once, yet an emulator needs random access ("page 3 of the pipelines", "the jobs of workflow X").
Both follow from generating each (project, day) from two things only: a random stream seeded by
(seed, project, day), and a small *state* carried from the day before (a failure streak, the
last commit, counters). :class:`DayPartitioned` runs the days once to record the state at the
start of each day (tiny), then regenerates any day on demand from its checkpoint, keeping a few
recent days in a cache. Ids embed their day (see :func:`day_tagged_uuid`), so a lookup by id
regenerates only that day.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import hashlib
import random
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

State = TypeVar("State")
Record = TypeVar("Record")

EPOCH = dt.date(2000, 1, 1)


def rng_for(seed: int, *parts: object) -> random.Random:
    """An independent random stream for (seed, *parts), identical on every run and machine."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def day_tagged_uuid(rng: random.Random, day: dt.date, partition: int) -> str:
    """A version-4 uuid whose first 32 bits hold (day, partition), so the day can be recovered.

    Real ids are opaque to clients; these still look and parse like any uuid4.
    """
    tag = ((day - EPOCH).days << 8) | (partition & 0xFF)
    value = (tag << 96) | rng.getrandbits(96)
    return str(uuid.UUID(int=value, version=4))


def day_of_uuid(value: str) -> tuple[dt.date, int] | None:
    """(day, partition) of an id made by :func:`day_tagged_uuid`; None when it cannot be one."""
    try:
        tag = uuid.UUID(value).int >> 96
    except ValueError:
        return None
    # uuid4 overwrites the version nibble (bits 76-79) and variant bits, both below bit 96.
    return EPOCH + dt.timedelta(days=tag >> 8), tag & 0xFF


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every date from first to last, inclusive."""
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


class DayPartitioned(Generic[State, Record]):
    """The records of one partition (e.g. a project), generated day by day.

    ``generate_day(day, state)`` returns ``(records, next_state)``; it must draw randomness only
    from a stream seeded by the day (``rng_for(seed, partition, day)``) and must not mutate the
    state it is given. The state should stay small: one copy per day is kept.
    """

    def __init__(
        self,
        days: Sequence[dt.date],
        initial_state: State,
        generate_day: Callable[[dt.date, State], tuple[list[Record], State]],
        *,
        cache_days: int = 16,
    ) -> None:
        self.days = list(days)
        self._index = {day: position for position, day in enumerate(self.days)}
        self._initial_state = initial_state
        self._generate_day = generate_day
        self._checkpoints: list[State] | None = None
        self._cache: collections.OrderedDict[dt.date, list[Record]] = collections.OrderedDict()
        self._cache_days = cache_days
        self._lock = threading.RLock()

    def _states(self) -> list[State]:
        """The state at the start of every day (one pass over all days, records dropped)."""
        with self._lock:
            if self._checkpoints is None:
                states, state = [], self._initial_state
                for day in self.days:
                    states.append(copy.deepcopy(state))
                    _, state = self._generate_day(day, state)
                self._checkpoints = states
            return self._checkpoints

    def state_at(self, day: dt.date) -> State:
        """The state at the start of ``day`` (a copy: the checkpoint itself stays untouched).

        KeyError for a day outside the range. The first call runs the days once (see
        :meth:`day`); later calls only copy one small checkpoint.
        """
        position = self._index.get(day)
        if position is None:
            raise KeyError(day)
        return copy.deepcopy(self._states()[position])

    def day(self, day: dt.date) -> list[Record]:
        """The records of one day (empty outside the range), regenerated from its checkpoint."""
        position = self._index.get(day)
        if position is None:
            return []
        with self._lock:
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
            records, _ = self._generate_day(day, copy.deepcopy(self._states()[position]))
            self._cache[day] = records
            if len(self._cache) > self._cache_days:
                self._cache.popitem(last=False)
            return records

    def __iter__(self) -> Iterator[tuple[dt.date, list[Record]]]:
        for day in self.days:
            yield day, self.day(day)

    def records(self, *, newest_first: bool = False) -> Iterator[Record]:
        """Every record, day by day (within a day in generation order, or reversed)."""
        for day in reversed(self.days) if newest_first else self.days:
            records = self.day(day)
            yield from (reversed(records) if newest_first else records)
