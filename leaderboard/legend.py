"""Texts that the README and the HTML page both show (a module of its own, so neither imports the other)."""
from __future__ import annotations

from leaderboard.paper_numbers import LABEL as PAPER_LABEL
from leaderboard.paper_numbers import SOURCE as PAPER_SOURCE

LEGEND = (
    "Each value is the score on the split, ± half the width of its percentile-bootstrap 95% interval "
    "where the run reported one. **Bold**: best in the column. ≈: a tie with the best (the 95% intervals "
    "overlap). `unsupported`: the model lacks the verb the task needs (never counted as 0); `error`: the "
    "run failed on the task; —: not run. Rows run best-first by the table's main column."
)
LEVELS = (
    "Levels: **scored** = the build itself recomputed every score from the archive's predictions against the "
    "sealed answers (stored scores are never trusted), but its predictions could have used other tasks' public "
    "inputs of the same split (every task asks about the same held-out interaction); **reproduced** = scored, "
    "and its recipe re-run by `leaderboard verify --record`, each task in isolation on only its own scored "
    "inputs, matched (and the private world agreed where it was run); **unverified** = not recomputed here "
    "(dataset or labels not given to the build, or "
    "archive not at hand): listed apart, never ranked. An entry that fails its checks is left off the board."
)
PAPER_NOTE = (
    f"Published numbers, labelled \"{PAPER_LABEL}\": {PAPER_SOURCE}. Their data and splits differ from "
    "ours, so they are context, not targets."
)
