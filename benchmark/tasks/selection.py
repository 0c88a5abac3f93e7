"""Selection (Table 2(c)): choose the appropriate items among 5 shuffled candidates."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmark.data.errors import DataError
from benchmark.data.sequences import Events, gather_lists
from benchmark.metrics import selection
from benchmark.tasks import builder as builders
from benchmark.tasks.base import TaskSpec, batches, is_finite_number, is_token_list, line_field, valid_split_of

N_CANDIDATES = 5      # decision: selection offers 5 shuffled candidates
SELECTION_K = (1, 2, 3)


def _scores(model, task: str, frame, desc: str) -> list[np.ndarray]:
    return [s for batch in batches(frame, desc) for s in np.asarray(model.rank(task, batch), dtype=np.float64)]


@dataclass(frozen=True)
class Selection(TaskSpec):
    line_fields: tuple[str, ...] = ("selected", "scores")

    def build(self, builder, split, ev):
        return pa.concat_tables(self.build_parts(builder, split, ev)).combine_chunks()

    def build_parts(self, builder, split, ev):
        """k positives = the last k interactions ending at the target; 5-k negatives from the target's
        domain that the user never touched; candidates shuffled (all seeded). The draws are made in the
        order of one whole build: every k, then every row's negatives, then the shuffles, drawn a part at a
        time (the generator gives the same numbers as one draw), so the parts are those of the whole set."""
        b = builder
        rng = b.rng(split, self.name)
        n = len(ev)
        k = rng.choice(SELECTION_K, size=n).astype(np.int8)  # 1-3 (memory: held for the whole set)
        for lo in range(0, n, builders.BUILD_EVENTS):  # keep at least one history item
            rows, part = slice(lo, lo + builders.BUILD_EVENTS), ev.range(lo, lo + builders.BUILD_EVENTS)
            np.minimum(k[rows], part.target - b.seqs.starts[part.user], out=k[rows], casting="unsafe")
        with _negatives(b, rng, ev, N_CANDIDATES - k) as negatives:
            for lo in range(0, max(n, 1), builders.BUILD_EVENTS):
                hi = lo + builders.BUILD_EVENTS
                yield builders.numbered_from(self._part(b, split, ev.range(lo, hi), k[lo:hi], negatives.read(lo, hi), rng),
                                             self.name, split, lo)  # no name holds the part (memory)

    def _part(self, b, split, ev, k, negatives, rng):
        n = len(ev.target)
        first_pos = ev.target - k + 1
        hist_end = first_pos
        hist_start = np.maximum(b.seqs.starts[ev.user], hist_end - (ev.hist_end - ev.hist_start))
        m = N_CANDIDATES - k
        cands = np.zeros((n, N_CANDIDATES), dtype=np.int64)
        for j in range(N_CANDIDATES):  # column j of the k positives, then of the m negatives (ragged rows)
            rows = np.flatnonzero(k > j)
            cands[rows, j] = b.items[first_pos[rows] + j]
            rows = np.flatnonzero(m > j)
            cands[rows, k[rows] + j] = negatives[rows, j]
        order = np.argsort(rng.random((n, N_CANDIDATES)), axis=1)
        cands = np.take_along_axis(cands, order, axis=1)
        hist = Events(ev.user, ev.target, hist_start, hist_end)
        offsets = pa.array(np.arange(0, n * N_CANDIDATES + 1, N_CANDIDATES, dtype=np.int32))
        return b.table(self, split, n, user=b.users(ev.user), history=b.history(hist),
                       instruction=self.instruction,
                       candidates=pa.ListArray.from_arrays(offsets, pa.array(cands.ravel())),
                       target_items=gather_lists(b.items, first_pos, ev.target + 1))

    def predict(self, model, split, data, instances, run_dir):
        ids = instances["id"].tolist()
        desc = f"{model.name} {self.name}/{split}"
        cands = [list(c) for c in instances["candidates"]]
        if model.implements("select"):
            selected = [s for batch in batches(instances, desc) for s in model.select(batch)]
            scores = [None] * len(ids)
        else:  # threshold the candidate scores, threshold chosen on the validation split only
            valid = self.load(data, valid_split_of(split))
            threshold = selection.choose_threshold(_scores(model, self.model_task, valid, f"{desc} (valid)"),
                                                   [list(p) for p in valid["target_items"]],
                                                   [list(c) for c in valid["candidates"]])
            scores = _scores(model, self.model_task, instances, desc)
            selected = selection.apply_threshold(scores, cands, threshold)
        return [{"id": i, "selected": [int(x) for x in s], "scores": None if sc is None else [_json_score(x) for x in sc]}
                for i, s, sc in zip(ids, selected, scores)]

    def check_line(self, row, split):
        problems = []
        if not is_token_list(row["selected"]):
            problems.append(("selected", "must be a list of item tokens"))
        sc = row["scores"]  # null when the model chose with `select` rather than scores
        if sc is not None and (not isinstance(sc, list) or not all(x is None or is_finite_number(x) for x in sc)):
            problems.append(("scores", "must be a list of finite numbers (null: no score) or null"))
        return problems

    def metric_data(self, instances, recs, settings):
        chosen = [line_field(self.name, rec, "selected") for rec in recs]
        return selection.selection_metrics(chosen, instances["target_items"].tolist()), {}


NEGATIVE_CHUNK = 1 << 17  # rows drawn together: bounds the (rows, draws) work arrays (memory), not the draws


class _RowsOnDisk:
    """An (n, N_CANDIDATES) int32 array in a temporary file, written and read a block of rows at a time (memory:
    a whole set's negatives, 20 bytes an event, are never all in a task worker's memory; the file is removed
    when closed)."""

    def __init__(self, n: int, folder: Path | None):
        self.n, self.row_bytes = n, N_CANDIDATES * 4
        self.file = tempfile.TemporaryFile(dir=folder)

    def write(self, lo: int, rows: np.ndarray) -> None:
        self.file.seek(lo * self.row_bytes)
        self.file.write(np.ascontiguousarray(rows, dtype=np.int32).tobytes())

    def read(self, lo: int, hi: int) -> np.ndarray:
        lo, hi = min(lo, self.n), min(hi, self.n)
        self.file.seek(lo * self.row_bytes)
        return np.fromfile(self.file, dtype=np.int32, count=(hi - lo) * N_CANDIDATES).reshape(hi - lo, N_CANDIDATES)

    def __enter__(self) -> "_RowsOnDisk":
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()


def _negatives(b, rng: np.random.Generator, ev, m: np.ndarray) -> _RowsOnDisk:
    """(n, N_CANDIDATES), on disk: row i's first m[i] columns are distinct untouched same-domain items, by vectorised
    rejection sampling (rows that run short are drawn again exactly, one by one in row order). The rows are
    drawn a chunk at a time: the generator gives the same numbers as one draw of every row."""
    n = len(ev)
    pool_sizes = np.array([len(p) for p in b.pools], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(pool_sizes)]).astype(np.int64)
    flat_pool = np.concatenate(b.pools) if b.pools else np.zeros(0, np.int64)
    out = _RowsOnDisk(n, b.texts[0] if b.texts else None)  # item tokens
    short = []
    try:
        for lo in range(0, n, NEGATIVE_CHUNK):  # the target's domain per chunk (memory: no whole-set arrays)
            rows, part = slice(lo, min(n, lo + NEGATIVE_CHUNK)), ev.range(lo, lo + NEGATIVE_CHUNK)
            dom = b.domain_code[b.items[part.target]]
            chunk = np.zeros((len(part), N_CANDIDATES), dtype=np.int32)
            got = _draw_negatives(b, rng, part.user, pool_sizes[dom], offsets[dom], flat_pool, m[rows], chunk)
            short.extend((lo + np.flatnonzero(got < m[rows])).tolist())
            out.write(lo, chunk)
        for i in short:  # rare: small pool or a very active user
            one = ev.range(i, i + 1)
            user, target = int(one.user[0]), int(one.target[0])
            pool = b.pools[b.domain_code[b.items[target]]]
            user_items = set(b.items[b.seqs.starts[user]: b.seqs.ends[user]].tolist())
            free = np.array([x for x in pool.tolist() if x not in user_items], dtype=np.int64)
            if len(free) < m[i]:
                raise DataError("selection task", None, f"user {b.user_ids[user].as_py()}: only {len(free)} items of "
                                "their domain are outside their history, and a selection instance needs "
                                f"{m[i]} negatives; the data has too few items per domain for this task")
            row = out.read(i, i + 1)
            row[0, :m[i]] = rng.choice(free, size=m[i], replace=False)
            out.write(i, row)
    except BaseException:
        out.file.close()
        raise
    return out


def _draw_negatives(b, rng, user, sizes, first, flat_pool, m, out, draws: int = 16) -> np.ndarray:
    """One chunk of `_negatives`' vectorised draw: fills `out` (a view) and returns each row's count."""
    cand = flat_pool[(rng.random((len(user), draws)) * sizes[:, None]).astype(np.int64) + first[:, None]]
    keys = user[:, None].astype(np.int64) * b.n_items + cand
    pos = np.searchsorted(b.touched, keys)
    touched = (pos < len(b.touched)) & (b.touched[np.minimum(pos, len(b.touched) - 1)] == keys)
    del keys, pos
    # mark repeats within a row (keep the first draw of each value)
    order = np.argsort(cand, axis=1, kind="stable")
    sorted_c = np.take_along_axis(cand, order, axis=1)
    dup_sorted = np.zeros_like(sorted_c, dtype=bool)
    dup_sorted[:, 1:] = sorted_c[:, 1:] == sorted_c[:, :-1]
    dup = np.zeros_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    ok = ~touched & ~dup
    rank = np.cumsum(ok, axis=1)  # 1 for a row's first acceptable draw, 2 for its second ...
    take = ok & (rank <= m[:, None])
    r, c = np.nonzero(take)
    out[r, rank[r, c] - 1] = cand[r, c]
    return take.sum(axis=1)


TASK = Selection(
    "selection", "1", "rank", "Given [Candidates], can you select all the appropriate items for the user?",
    ("recall", "precision", "f1"), "f1", "Table 2(c)", "Table 2(c) - selection", ("recall", "precision", "f1"),
    answers=("target_items",),
)


def _json_score(x) -> float | None:
    """A candidate's score as JSON allows it: null where the model gave none (-inf: an item it never saw)."""
    x = float(x)
    return x if np.isfinite(x) else None
