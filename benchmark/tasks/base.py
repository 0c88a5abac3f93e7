"""What a task declares (protocol.md section 2): the base class every task module fills in, and the
candidate rules of the ranking tasks.

A task is one module of `benchmark.tasks` holding one `TaskSpec` instance. It declares
  - its name, version, the model verb it needs and its instruction template (the paper's Appendix A.2);
  - how its instances are built from the leave-last-out events (`build`), or which task's instance
    files it reuses (`instances`, a variant);
  - for ranking tasks, its candidate rule: which items a model may rank (`CandidateRule`);
  - its metrics by name from `benchmark.metrics.registry` and its main score (direction from there);
  - which instance columns are its answers (`answers`): `prepare` seals them for the scored splits;
  - how predictions are produced from the model verb (`predict`), how a prediction line is checked
    (`line_fields`, `check_line`) and how the lines are scored (`metric_data`, `scorer_settings`).
The evaluator, the scorer, the summary tables, the leaderboard and the CLI read these declarations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from benchmark.data.regimes import regime_of
from benchmark.metrics import ranking
from benchmark.metrics.registry import METRICS
from benchmark.tasks import builder as builders

TOP_K = 10      # items in a ranking prediction line
BATCH = 256     # instances per model call


def batches(frame: pd.DataFrame, desc: str):
    """`frame` in model-call batches, with a progress bar."""
    for start in tqdm(range(0, len(frame), BATCH), desc=desc, unit="batch", leave=False,
                      total=(len(frame) + BATCH - 1) // BATCH):
        yield frame.iloc[start:start + BATCH]


def histories(frame: pd.DataFrame) -> list:
    return [list(h) if h is not None else [] for h in frame["history"]]


def line_field(task: str, rec: dict, key: str):
    """`rec[key]`, or a ValueError naming the prediction and the missing field."""
    if key not in rec:
        raise ValueError(f"{task}: prediction {rec['id']!r} has no {key!r} field")
    return rec[key]


def is_token_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)


def is_finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class ScoreSettings:
    """What a scorer may need beyond instances and predictions (each task reads its own)."""
    dataset: Any = None                     # benchmark.data.dataset.PreparedDataset
    run_dir: Path | None = None             # folder that prediction file paths are relative to
    bertscore_model: str | None = None
    bertscore_layers: int | None = None
    fallback_rating: float = 3.0


# ---- candidate rules ---------------------------------------------------------------------------------
class CandidateRule:
    """Which items a ranking task's model may rank for each instance (the user's history is always
    removed as well)."""

    description = ""

    def mask(self, data, split: str, instances: pd.DataFrame) -> np.ndarray:
        """Boolean (n_items,) shared by every instance, or (len(instances), n_items)."""
        raise NotImplementedError


class SplitCatalogue(CandidateRule):
    description = "the split's catalogue (its regime's domains), minus the user's history"

    def mask(self, data, split, instances):
        return data.catalogue_mask(split)


class QueryCategory(CandidateRule):
    description = "items of the split's catalogue whose category path equals the query, minus the user's history"

    def mask(self, data, split, instances):
        category = data.items["category"].to_numpy(dtype=object)
        queries = np.asarray(instances["query"].tolist(), dtype=object)
        # items without a category (None) never equal a query string
        return data.catalogue_mask(split)[None, :] & (category[None, :] == queries[:, None])


# ---- the task declaration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSpec:
    name: str
    version: str
    verb: str                       # the model verb the task needs (benchmark.api.VERBS)
    instruction: str                # the paper's wording (Appendix A.2); "[Query]" is replaced by the query
    metrics: tuple[str, ...]        # names in benchmark.metrics.registry.METRICS
    main_score: str
    paper_table: str
    title: str                      # heading of the task's summary table
    table_metrics: tuple[str, ...]  # columns of the task's summary tables
    table_splits: tuple[str, ...] = ("test",)
    answers: tuple[str, ...] = ()   # instance columns that hold the answer: sealed in the scored splits' labels
    instances: str = ""             # a variant reuses tasks/<instances>/<split>.parquet; "" = its own files
    asks: str = ""                  # the task name a variant's model verbs are called with; "" = its own
    line_fields: tuple[str, ...] = ()       # fields of a prediction line besides "id"
    optional_fields: tuple[str, ...] = ()   # fields a line may carry
    file_fields: tuple[str, ...] = ()       # line fields that are paths to files of the run folder
    gallery: bool = False           # predictions are pictures: the evaluator writes an HTML gallery

    # ---- derived from the declaration -----------------------------------------------------------------
    @property
    def higher_is_better(self) -> bool:
        return METRICS[self.main_score].higher_is_better

    @property
    def instance_set(self) -> str:
        """The name of the instance files this task reads (its own, or its base task's for a variant)."""
        return self.instances or self.name

    @property
    def model_task(self) -> str:
        """The task name the model's verbs are called with."""
        return self.asks or self.name

    @property
    def builds(self) -> bool:
        """True when `prepare` writes instance files for this task (a variant reuses another's)."""
        return not self.instances

    def instruction_for(self, queries: pa.Array | None = None) -> pa.Array | str:
        """The instruction, or with `queries` (Arrow strings) one per query, each "[Query]" replaced by it (null
        query: null): the template's pieces joined in Arrow, the strings `str.replace` gives."""
        if queries is None:
            return self.instruction
        pieces = self.instruction.split("[Query]")
        if len(pieces) == 1:
            return pa.repeat(self.instruction, len(queries)).cast(pa.string())
        parts = [pieces[0]]
        for piece in pieces[1:]:
            parts += [queries, piece]
        return pc.binary_join_element_wise(*parts, "")

    def load(self, data, split: str) -> pd.DataFrame:
        return data.instances(self.instance_set, split)

    def n_instances(self, data, split: str) -> int:
        return int(data.manifest["instances"].get(f"{self.instance_set}/{split}", 0))

    # ---- what each task module provides ---------------------------------------------------------------
    def build(self, builder, split: str, ev):
        """The instance table of `split` from leave-last-out events (benchmark.tasks.builder)."""
        raise NotImplementedError(f"{self.name} reuses the instances of {self.instance_set!r}")

    def build_parts(self, builder, split: str, ev):
        """`build`'s table in parts (concatenated, the same table), each from `builders.BUILD_EVENTS` consecutive
        events: a task set is never whole in memory. Right for a task whose instances each depend on their own
        event only; a task with draws across the whole set (selection) overrides it."""
        done = 0
        for lo in range(0, max(len(ev), 1), builders.BUILD_EVENTS):
            part = [builders.numbered_from(self.build(builder, split, ev.range(lo, lo + builders.BUILD_EVENTS)),
                                           self.name, split, done)]
            done += part[0].num_rows
            yield part.pop()  # no name here holds it while the caller writes it (memory)

    def predict(self, model, split: str, data, instances: pd.DataFrame, run_dir: Path) -> list[dict]:
        """The prediction lines (benchmark.eval.results format) of `model` on `instances`."""
        raise NotImplementedError

    def check_line(self, row: dict, split: str) -> list[tuple[str, str]]:
        """(field, problem) for each ill-typed field of a prediction line whose fields are all present."""
        return []

    def scorer_settings(self, extra: dict) -> dict:
        """The `score_predictions` keyword arguments to recompute a result from its recorded `extra`."""
        return {}

    def metric_data(self, instances: pd.DataFrame, recs: list[dict], settings: ScoreSettings) -> tuple[dict, dict]:
        """({metric: per-instance data}, extra) from predictions aligned with the instances."""
        raise NotImplementedError


@dataclass(frozen=True)
class RankingTask(TaskSpec):
    """Full ranking: the model scores every item token; the evaluator keeps the candidates that the
    task's rule allows, removes the user's history and records the top TOP_K."""

    candidates: CandidateRule = field(default_factory=SplitCatalogue)
    line_fields: tuple[str, ...] = ("ranked",)

    def predict(self, model, split, data, instances, run_dir):
        ranked = []
        for batch in batches(instances, f"{model.name} {self.name}/{split}"):
            scores = np.asarray(model.rank(self.model_task, batch), dtype=np.float32)
            if scores.shape != (len(batch), data.n_items):
                raise ValueError(f"{model.name}.rank returned shape {scores.shape}, expected {(len(batch), data.n_items)}")
            allowed = self.candidates.mask(data, split, batch)
            ranked.extend(ranking.topk_after_masking(scores, TOP_K, histories(batch), allowed).tolist())
        return [{"id": i, "ranked": [t for t in r if t >= 0]} for i, r in zip(instances["id"].tolist(), ranked)]

    def check_line(self, row, split):
        r = row["ranked"]
        if not is_token_list(r) or len(r) > TOP_K or len(set(r)) != len(r):
            return [("ranked", f"must be at most {TOP_K} distinct item tokens (integers)")]
        return []

    def metric_data(self, instances, recs, settings):
        ranked = np.full((len(recs), TOP_K), ranking.PAD, dtype=np.int64)
        for i, rec in enumerate(recs):  # lists of unequal length from JSON: pad/truncate to TOP_K
            r = list(line_field(self.name, rec, "ranked"))[:TOP_K]
            ranked[i, : len(r)] = r
        targets = instances["target_item"].to_numpy(dtype=np.int64)
        return ranking.ranking_metrics_from_topk(ranked, targets), {"top_k": TOP_K}


def valid_split_of(split: str) -> str:
    """The split a model may select on when evaluated on `split`."""
    return regime_of(split).valid
