"""Cost of verifying a prepared dataset against its manifest, next to a `pop` run on the same data.

Cold: no hash cache (every file hashed; the OS page cache is warm, as it is right after `prepare`).
Warm: the cache in <data>/.verify-cache.json is valid (one stat per file). Each is the median of
--repeats opens in this process, the in-memory cache cleared as in a new process. The `pop` run is one
`python -m unimp_bench.cli run --model pop` in a subprocess, the way a user runs it (its own open included).
Usage: python bench/bench_integrity.py [--data data/world-default] [--out DIR]  (default: a temporary folder)
(from a checkout other than the installed one: PYTHONPATH=. python bench/bench_integrity.py ...)
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_open(data: Path, cold: bool, repeats: int) -> float:
    from benchmark.data import integrity, layout
    from benchmark.data.dataset import PreparedDataset

    times = []
    PreparedDataset(data)  # leaves a valid cache for the warm case
    for _ in range(repeats):
        integrity._memo.clear()
        if cold:
            (data / layout.VERIFY_CACHE).unlink(missing_ok=True)
        t0 = time.perf_counter()
        PreparedDataset(data)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/world-default"))
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="bench-integrity-")))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    manifest = json.loads((args.data / "manifest.json").read_text())
    n_files = len(manifest["files"])
    size = sum((args.data / rel).stat().st_size for rel in manifest["files"])
    cold = time_open(args.data, cold=True, repeats=args.repeats)
    warm = time_open(args.data, cold=False, repeats=args.repeats)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "unimp_bench.cli", "run", "--model", "pop", "--data", str(args.data),
                           "--out", str(args.out)], capture_output=True, text=True)
    pop = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"pop run failed:\n{done.stderr}")
    print(f"dataset {args.data}: {n_files:,} files, {size / 2**20:.1f} MiB")
    print(f"verification cold (no cache): {cold:.3f}s   warm (cache): {warm:.3f}s")
    print(f"pop run (all tasks and splits, CLI): {pop:.1f}s")
    print(f"ratio cold: {cold / pop:.2%}   warm: {warm / pop:.2%}")


if __name__ == "__main__":
    main()
