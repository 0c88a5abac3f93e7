"""Users' chronological sequences as flat arrays, and the leave-last-out events built from them.

A `Sequences` holds the interactions of a group of users (training-domain users, new users, or the
new domain's users) concatenated user by user, oldest first, plus each user's [start, end) range.
An *event* is one (target position, history range) pair: the unit every task instance is built on.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

MAX_HISTORY = 50  # decision: histories stored up to the last 50 items (RecBole's default length)


@dataclass
class Sequences:
    frame: pd.DataFrame      # ordered interactions: user, item (token), timestamp, rating, review, summary, domain
    starts: np.ndarray       # (U,) first row of each user
    ends: np.ndarray         # (U,) one past the last row
    users: np.ndarray        # (U,) user ids (str)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Sequences":
        if not frame.index.equals(pd.RangeIndex(len(frame))):
            frame = frame.reset_index(drop=True)  # (a copy of every column: only when needed)
        column = frame["user"]
        # user ids as categories: the codes tell where a user's rows end (no string comparisons)
        user = column.cat.codes.to_numpy() if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()
        if len(user) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(frame, empty, empty, np.array([], dtype=object))
        change = np.flatnonzero(user[1:] != user[:-1]) + 1
        starts = np.concatenate([[0], change]).astype(np.int64)
        ends = np.concatenate([change, [len(user)]]).astype(np.int64)
        return cls(frame, starts, ends, column.iloc[starts].to_numpy(dtype=object))

    @property
    def items(self) -> np.ndarray:
        return self.frame["item"].to_numpy(np.int64)

    def user_index(self) -> np.ndarray:
        """(N,) index of the user owning each row."""
        return np.repeat(np.arange(len(self.starts)), self.ends - self.starts)

    def part_mask(self, part: str) -> np.ndarray:
        """(N,) bool: the rows of one leave-last-out part: "train" (all but each user's last two), "valid"
        (second to last), "test" (last), or "all". One byte a row (memory: no row copies, no int64 work arrays)."""
        n = len(self.frame)
        if part == "all":
            return np.ones(n, dtype=bool)
        lens = self.ends - self.starts
        last, second = self.ends - 1, self.ends - 2
        if part == "train":
            mask = np.ones(n, dtype=bool)
            mask[last[lens >= 1]] = False
            mask[second[lens >= 2]] = False
            return mask
        if part not in ("valid", "test"):
            raise ValueError(f"unknown part {part!r}")
        mask = np.zeros(n, dtype=bool)
        mask[second[lens >= 2] if part == "valid" else last[lens >= 1]] = True
        return mask

    def part_users(self, part: str) -> int:
        """How many users have a row in `part` (each user's rows are one range)."""
        lens = self.ends - self.starts
        return int((lens > {"train": 2, "valid": 1, "test": 0, "all": 0}[part]).sum())


@dataclass
class Events:
    """Event e predicts row `target[e]` from rows [hist_start[e], hist_end[e]) of the same user."""

    user: np.ndarray        # (E,) user index into Sequences.users
    target: np.ndarray      # (E,) row of the target interaction
    hist_start: np.ndarray  # (E,)
    hist_end: np.ndarray    # (E,)

    def __len__(self) -> int:
        return len(self.target)

    def range(self, lo: int, hi: int) -> "Events":
        """Events [lo, hi) (the interface `SplitEvents` shares)."""
        return Events(self.user[lo:hi], self.target[lo:hi], self.hist_start[lo:hi], self.hist_end[lo:hi])


class SplitEvents:
    """The events of one leave-last-out part, made a range at a time (`range`): whatever the ranges, the
    same events, but a task worker never holds a split's events whole (memory: 12 bytes an event).

    train: every train row but each user's first (history = the train rows before it);
    valid: the second-to-last row (history = all train rows); test: the last row (history = all before).
    """

    def __init__(self, seqs: Sequences, part: str):
        self.seqs, self.part = seqs, part
        # int32 where every row number fits; events only index and offset rows, so no instance's bytes depend on
        # their type
        self.kind = np.int32 if len(seqs.frame) < 2**31 else np.int64
        lens = seqs.ends - seqs.starts
        if part == "train":
            n_ev = np.maximum(lens - 3, 0)  # train rows are lens-2; the first has no history
            self.ends = np.cumsum(n_ev)     # user u's events are [ends[u] - n_ev[u], ends[u])
            # event e of user u targets row starts[u] + 1 + (e - first[u])
            self.shift = seqs.starts + 1 - (self.ends - n_ev)
            self.n = int(self.ends[-1]) if len(lens) else 0
        elif part in ("valid", "test"):
            self.back = 2 if part == "valid" else 1
            self.users = np.flatnonzero(lens >= self.back + 1)
            self.n = len(self.users)
        else:
            raise ValueError(f"unknown part {part!r}")

    def __len__(self) -> int:
        return self.n

    def range(self, lo: int, hi: int) -> Events:
        """Events [lo, hi) of the part."""
        kind, lo, hi = self.kind, max(lo, 0), min(hi, self.n)
        if self.part == "train":
            target = np.arange(lo, max(lo, hi), dtype=np.int64)
            user = np.searchsorted(self.ends, target, side="right")
            target += self.shift[user]
            user, target = user.astype(kind), target.astype(kind)
        else:
            user = self.users[lo:hi].astype(kind)
            target = (self.seqs.ends[user] - self.back).astype(kind)
        hist_start = self.seqs.starts[user].astype(kind)
        np.maximum(hist_start, target - MAX_HISTORY, out=hist_start)
        return Events(user, target, hist_start, target)


GATHER_CHUNK = 1 << 16  # lists gathered together: bounds the work arrays (memory), not the result


def gather_lists(values: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """pyarrow ListArray whose e-th list is values[starts[e]:ends[e]] (vectorised, no Python loop per list).
    The flat values are written into one array a chunk of lists at a time: full-length index arrays would
    cost several times the result (the training histories are the largest arrays of `prepare`)."""
    values = np.asarray(values, dtype=np.int64)
    lens = (ends - starts).astype(np.int64)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=np.int64)
    for lo in range(0, len(lens), GATHER_CHUNK):
        hi = min(len(lens), lo + GATHER_CHUNK)
        first, last = int(offsets[lo]), int(offsets[hi])
        # position offsets[e] + j of the result holds values[starts[e] + j]
        shift = np.repeat(np.asarray(starts[lo:hi], dtype=np.int64) - offsets[lo:hi], lens[lo:hi])
        np.take(values, shift + np.arange(first, last, dtype=np.int64), out=flat[first:last])
    small = offsets[-1] < 2**31
    cls = pa.ListArray if small else pa.LargeListArray
    arr = cls.from_arrays(pa.array(offsets.astype(np.int32) if small else offsets), pa.array(flat))
    return arr.cast(pa.list_(pa.int64()))
