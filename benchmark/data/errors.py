"""Errors for bad input: every message names the file and, where there is one, the line."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


class DataError(ValueError):
    """Bad input data. `str()` reads `FILE:LINE: message`."""

    def __init__(self, path, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # so a DataError raised in a worker process reaches the caller intact
        return (DataError, (self.path, self.line, self.message))


class IntegrityError(DataError):
    """A prepared dataset that does not match its manifest (a file edited, missing or unlisted)."""

    def __init__(self, path, message: str):
        super().__init__(path, None, message)

    def __reduce__(self):
        return (IntegrityError, (self.path, self.message))


@dataclass
class SkipReport:
    """Counts of records skipped under `--skip-bad`, by file and reason; recorded in the manifest.

    Without `skip_bad`, `record` raises the DataError instead, so nothing bad passes silently.
    """

    skip_bad: bool = False
    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)  # (file, reason) -> first "file:line: message"
    records: list = field(default_factory=list)   # every skip, in order: (file, line, reason, "file:line: message")

    def record(self, error: DataError, reason: str) -> None:
        if not self.skip_bad:
            raise error
        key = (error.path, reason)
        self.counts[key] += 1
        self.examples.setdefault(key, str(error))
        self.records.append((error.path, error.line, reason, str(error)))

    def merge(self, other: "SkipReport") -> None:
        """Add the counts of a report filled elsewhere (e.g. in a worker process)."""
        self.counts.update(other.counts)
        for key, example in other.examples.items():
            self.examples.setdefault(key, example)
        self.records += other.records

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> list[dict]:
        return [
            {"file": Path(f).name, "reason": r, "count": n,
             "first": Path(f).name + self.examples[(f, r)][len(f):]}
            for (f, r), n in sorted(self.counts.items())
        ]

    def record_rows(self) -> list[dict]:
        """Every skipped record, in reading order, named by file name (no folder: the same on any machine)."""
        return [{"file": Path(f).name, "line": line, "reason": r, "message": Path(f).name + message[len(f):]}
                for f, line, r, message in self.records]
