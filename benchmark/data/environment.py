"""What a run records about where it ran: library versions, platform, git commit."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("unimp-bench", "torch", "transformers", "numpy", "pandas", "pyarrow", "recbole", "open_clip_torch",
            "rank-bm25", "sacrebleu", "rouge-score", "nltk", "bert-score", "taming-transformers", "accelerate")


def cache_root() -> Path:
    """unimp-bench's cache folder (image judge, WordNet, frozen vision features, VQ tokenizers):
    $UNIMP_BENCH_CACHE or ~/.cache/unimp-bench."""
    return Path(os.environ.get("UNIMP_BENCH_CACHE", Path.home() / ".cache" / "unimp-bench"))


def git_commit(path: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path or Path(__file__).parent, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path or Path(__file__).parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions,
            "git": git_commit()}
