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
        frame = frame.reset_index(drop=True)
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

    def rows(self, part: str) -> pd.DataFrame:
        """Interactions of one leave-last-out part: "train" (all but the last two), "valid"
        (second to last), "test" (last), or "all"."""
        n = len(self.frame)
        pos = np.arange(n) - np.repeat(self.starts, self.ends - self.starts)
        remaining = np.repeat(self.ends, self.ends - self.starts) - np.arange(n)  # 1 for the last row
        mask = {"train": remaining > 2, "valid": remaining == 2, "test": remaining == 1,
                "all": np.ones(n, dtype=bool)}[part]
        del pos
        return self.frame[mask].reset_index(drop=True)


@dataclass
class Events:
    """Event e predicts row `target[e]` from rows [hist_start[e], hist_end[e]) of the same user."""

    user: np.ndarray        # (E,) user index into Sequences.users
    target: np.ndarray      # (E,) row of the target interaction
    hist_start: np.ndarray  # (E,)
    hist_end: np.ndarray    # (E,)


def events(seqs: Sequences, part: str) -> Events:
    """Events of a leave-last-out part.

    train: every train row but each user's first (history = the train rows before it);
    valid: the second-to-last row (history = all train rows); test: the last row (history = all before).
    """
    # int32 where every row number fits (memory: a task worker holds its split's events whole), and made in that
    # type with few full-length work arrays; events only index and offset rows, so no instance's bytes depend on
    # their type
    kind = np.int32 if len(seqs.frame) < 2**31 else np.int64
    lens = seqs.ends - seqs.starts
    starts = seqs.starts.astype(kind)
    if part == "train":
        n_ev = np.maximum(lens - 3, 0)  # train rows are lens-2; the first has no history
        user = np.repeat(np.arange(len(lens), dtype=kind), n_ev)
        # event e of user u (its events numbered from first[u]) targets row starts[u] + 1 + (e - first[u])
        first = np.cumsum(n_ev) - n_ev
        target = np.arange(int(n_ev.sum()), dtype=kind)
        target += np.repeat((seqs.starts + 1 - first).astype(kind), n_ev)
    elif part in ("valid", "test"):
        back = 2 if part == "valid" else 1
        user = np.flatnonzero(lens >= back + 1).astype(kind)
        target = (seqs.ends[user] - back).astype(kind)
    else:
        raise ValueError(f"unknown part {part!r}")
    hist_start = starts[user]
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
