"""The one interface every model implements: a handful of batch verbs over task instances.

A model implements only the verbs it can (lm-evaluation-harness style). The evaluator asks each model
for the verb a task needs; a model that lacks it is reported as "unsupported" for that task, never 0.

Verbs (each takes a pandas DataFrame of task instances, columns `benchmark.data.layout.INSTANCE_COLUMNS`,
and returns one answer per row, in order):

rank(task, requests) -> np.ndarray float32
    recommendation / search: shape (B, n_items), a score for every item token of the catalogue
        (the evaluator keeps the items the task's candidate rule allows and removes history items
        itself; a task variant such as search-catalogue calls the verb with its base task's name);
    selection: shape (B, n_candidates), a score for each entry of `requests.candidates`.
select(requests) -> list[list[int]]
    selection only, optional: the chosen candidate tokens. Without it the evaluator thresholds the
    `rank` scores, with the threshold chosen on the validation split.
predict_rating(requests) -> list[str | float]
    raw outputs; the evaluator parses them (1..5) and counts unparseable ones. A `RatingAnswer(output,
    expectation)` also records the model's expectation read-out (scored as mae-/rmse-expectation).
generate_text(requests) -> list[str]
    explanation.
generate_images(requests) -> list[PIL.Image.Image]
    image generation. Optional `image.info` keys the evaluator records: "retrieved" (item tokens a
    two-stage generator retrieved first) and IMAGE_TOKEN_SCORES, a token model's teacher-forced scores
    of the target image's VQ codes ("token_nll" nats per token, "token_accuracy").

Training: `fit(data, regime)` is called once per regime (its name, `benchmark.data.regimes.REGIMES`)
before any verb of that regime:
    regime "main":       train on the `train` split, select on `valid`; evaluated on test and new_user.
    regime "new_domain": train (or adapt) on `new_domain_train`, select on `new_domain_valid`;
                         evaluated on `new_domain`. A model may keep what it learned in "main".
Model selection uses validation data only, never test.
A model's name and one-line description live in the registry (`benchmark.api.registry`), nowhere else.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from benchmark.api.config_schema import check
from benchmark.tasks import TASKS

VERBS = ("rank", "select", "predict_rating", "generate_text", "generate_images")


class Model:
    """Base class. Subclasses set `name`, override `fit` and the verbs they support."""

    name: ClassVar[str] = "model"
    # Recorded in results; bump when the model's behaviour changes.
    revision: ClassVar[str] = "1"
    # True when the same data, config and seed give byte-identical predictions: `leaderboard verify` then
    # requires the re-run's predictions to be identical; otherwise its main scores inside the submitted CI.
    deterministic: ClassVar[bool] = False
    # The settings dataclass (benchmark.api.config_schema): `config` is checked against it and `self.settings`
    # holds the typed values with defaults filled in. None: an unchecked dict (models outside the registry).
    Settings: ClassVar[type | None] = None

    def __init__(self, config: dict[str, Any] | None = None, seed: int = 0, run_dir: Path | None = None):
        self.config = dict(config or {})
        self.settings = check(self.Settings, self.config, where=f"model {self.name}") if self.Settings else None
        self.seed = seed
        self.run_dir = Path(run_dir) if run_dir is not None else None

    # ---- training -------------------------------------------------------------------------------
    def fit(self, data, regime: str) -> None:  # data: benchmark.data.dataset.PreparedDataset
        """Train (or load) for `regime`; default: nothing to learn."""

    def set_inference_data(self, data) -> None:
        """Called before the verbs of each evaluation with the dataset view whose items (text, images) the
        model must read at inference: under `--perturb NT|NV` a perturbed view (benchmark.data.perturb), else the
        dataset given to `fit`. Models that cache item features at fit time recompute them here."""
        self.inference_data = data

    # ---- capability --------------------------------------------------------------------------------
    def implements(self, verb: str) -> bool:
        """True when the subclass overrides `verb`."""
        mine = getattr(type(self), verb, None)
        return mine is not None and mine is not getattr(Model, verb, None)

    def supports(self, task: str, split: str) -> bool:
        """Override to refuse a task/split the model could answer in form but not in substance
        (e.g. MF has no embedding for new users). Default: the task's verb is implemented."""
        return self.implements(TASKS[task].verb)

    # ---- verbs (optional) ----------------------------------------------------------------------
    def rank(self, task: str, requests: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def select(self, requests: pd.DataFrame) -> list[list[int]]:
        raise NotImplementedError

    def predict_rating(self, requests: pd.DataFrame) -> list:
        raise NotImplementedError

    def generate_text(self, requests: pd.DataFrame) -> list[str]:
        raise NotImplementedError

    def generate_images(self, requests: pd.DataFrame) -> list:
        raise NotImplementedError

    # ---- description recorded in results ------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision, "config": self.config}
