"""search-catalogue: the search instances, ranked over the whole split catalogue (the query only
informs the model). A variant of `search`: same instance files, same question to the model, another
candidate rule."""
from __future__ import annotations

import dataclasses

from benchmark.tasks.base import SplitCatalogue
from benchmark.tasks.search import TASK as SEARCH

TASK = dataclasses.replace(
    SEARCH, name="search-catalogue", instances="search", asks="search", candidates=SplitCatalogue(),
    title="Table 2(d) - search, candidates from the whole catalogue",
)
