"""The distributed path, shown in Ray's local mode: `prepare`'s per-domain reading runs as Ray tasks (one per
domain file pair, the unit a cluster would spread over nodes) instead of local processes, and the dataset
must come out byte-identical to the single-machine path (same dataset sha256). See docs/scale.md.

Usage: python bench/ray_prepare.py [--scale tiny] [--workdir DIR (default: <system temp>/unimp-bench-ray)]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="tiny")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "unimp-bench-ray")
    args = parser.parse_args()
    import ray  # heavy: ray

    import benchmark.prepare as prep
    from benchmark.data.world import generate_world

    raw = args.workdir / f"raw-{args.scale}"
    generate_world(raw, scale=args.scale, seed=0)
    shas = {}
    t0 = time.time()
    single = prep.prepare("amazon2014", raw, args.workdir / "single", seed=0, force=True, scale=args.scale,
                          image_size=prep.WORLD_IMAGE_SIZE[args.scale])
    shas["single machine"] = (json.loads((single / "manifest.json").read_text())["dataset_sha256"], time.time() - t0)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    read_one = ray.remote(prep._load_one)

    def load_domains_on_ray(source, raw_dir, domains, report, table_items, limits, k, spill):
        """_load_domains with each domain read (and cleaned, its texts spilled) by a Ray task; skip reports
        merged in domain order."""
        domains = list(domains)
        loaded = ray.get([read_one.remote((source, raw_dir, d, report.skip_bad, limits, k, spill)) for d in domains])
        for *_, part in loaded:
            report.merge(part)
        return {d: cleaned for d, (*cleaned, _) in zip(domains, loaded)}

    prep._load_domains = load_domains_on_ray
    t0 = time.time()
    shutil.rmtree(args.workdir / "ray", ignore_errors=True)
    on_ray = prep.prepare("amazon2014", raw, args.workdir / "ray", seed=0, scale=args.scale,
                          image_size=prep.WORLD_IMAGE_SIZE[args.scale])
    shas["Ray local mode (reading as Ray tasks)"] = (
        json.loads((on_ray / "manifest.json").read_text())["dataset_sha256"], time.time() - t0)
    ray.shutdown()
    for name, (sha, seconds) in shas.items():
        print(f"{name:<40} dataset sha256 {sha}  ({seconds:.1f}s)")
    same = len({sha for sha, _ in shas.values()}) == 1
    print("identical" if same else "DIFFERENT")
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
