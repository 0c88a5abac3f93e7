"""Time `prepare` per stage at 1x, 2x and 4x paper scale: wall and CPU time, peak memory, the ratio to a scan floor.

World generation is timed apart from `prepare` (which reads the 2014-format files like real data), and the
two are added up as the whole `unimp-bench prepare --scale paper` command. Each scale runs in its own process.
Peak memory is the whole process tree's (that process and every worker it starts): the largest sum of their
proportional set sizes (PSS, from /proc/<pid>/smaps_rollup, sampled every 0.1 s by the parent), so a page a
forked worker shares with its parent counts once; the largest single process's peak RSS is printed beside it.
The stages are timed by wrapping the functions `benchmark.prepare` calls (nothing in the pipeline changes; the
images are checked in worker processes while the interactions are merged and split, so "images" is the time
spent waiting for them). The scan floor reads the same raw files once with the same engines `prepare` uses,
and nothing else: DuckDB's scan of the reviews' six fields, and `parse_literal` over every metadata line. CPU
seconds (user + system, the process and its workers) are printed beside wall seconds: on a shared machine
wall time grows with the load, CPU time much less.

`--separate` generates each world in one process and prepares it in a fresh one (as `prepare` runs on raw files
already on disk: real releases), and prints that process tree's own peak beside the whole.

`--command N` also runs the command itself, `unimp-bench prepare --scale <base>`, N times into a fresh folder
(so the world is generated each time): wall, CPU and peak memory (the same tree PSS) as a user would see them.

Usage: python bench/bench_prepare.py [--scales 1,2,4] [--base paper] [--separate] [--command N]
                                     [--workdir DIR (default: <system temp>/unimp-bench-prepare)]
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_gib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 2**20  # ru_maxrss is KiB on Linux


def tree_pss(root: int) -> dict[int, int]:
    """{pid: PSS bytes} of process `root` and all its descendants (those /proc can tell of)."""
    pids, found = [root], {}
    while pids:
        pid = pids.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                found[pid] = next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    pids += [int(c) for c in f.read().split()]
        except (OSError, StopIteration, ValueError):  # the process ended meanwhile
            continue
    return found


class TreePeak:
    """Samples the process tree under `pid` every `every` seconds in a thread; `.peak` is the largest sum seen,
    `.by_stage` the largest while each value of `.stage` (set by the caller: what is running) held, and
    `.at_peak` (stage, PSS of `pid` itself, PSS of each other process largest first) at the peak."""

    def __init__(self, pid: int, every: float = 0.1):
        self.pid, self.every, self.peak = pid, every, 0
        self.stage, self.by_stage, self.at_peak = None, {}, (None, 0, [])
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(self.every):
            stage, each = self.stage, tree_pss(self.pid)
            pss = sum(each.values())
            if pss > self.peak:
                own = each.pop(self.pid, 0)
                self.peak, self.at_peak = pss, (stage, own, sorted(each.values(), reverse=True))
            if stage is not None:
                self.by_stage[stage] = max(self.by_stage.get(stage, 0), pss)

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return self.peak / 2**30


def cpu_seconds() -> float:
    """User + system seconds of this process and its finished workers."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def scaled(base: str, factor: int):
    from benchmark.data.world.config import SCALES

    s = SCALES[base]
    if factor == 1:
        return s
    return replace(s, name=f"{base}-x{factor}", n_users=s.n_users * factor, n_items=s.n_items * factor,
                   office_users=s.office_users * factor)


def scan_floor(raw: Path) -> float:
    """Seconds to read every raw file once with prepare's engines (the floor of its reading)."""
    import duckdb

    from benchmark.data.sources.amazon2014 import REVIEW_FIELDS, parse_literal

    f = REVIEW_FIELDS
    columns = ", ".join(f"'{k}': 'JSON'" for k in (f.user, f.item, f.time, f.rating, f.review, f.summary))
    t0 = time.perf_counter()
    con = duckdb.connect(config={"threads": 1})
    for path in sorted(raw.glob("reviews_*.json.gz")):
        con.sql(f"SELECT * FROM read_json('{path}', format = 'newline_delimited', columns = {{{columns}}})").to_arrow_table()
    for path in sorted(raw.glob("meta_*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for text in lines:
                parse_literal(text)
    return time.perf_counter() - t0


def timed_prepare(raw: Path, out: Path, image_size: int, scale_name: str, sampler: TreePeak | None = None):
    """prepare() with the seconds spent in each stage (the stages overlap nothing; the rest is the remainder);
    `sampler`: told which stage runs (its tree peaks per stage)."""
    import benchmark.prepare as prep

    seconds: dict[str, float] = defaultdict(float)
    peaks: dict[str, float] = {}  # the main process's peak RSS (GiB) when each stage last ended: where memory goes

    def wrap(stage, fn):
        def timed(*a, **kw):
            t0 = time.perf_counter()
            outer = sampler.stage if sampler else None
            if sampler:
                sampler.stage = stage
            try:
                return fn(*a, **kw)
            finally:
                if sampler:
                    sampler.stage = outer
                seconds[stage] += time.perf_counter() - t0
                peaks[stage] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        return timed

    stages = {"read, dedupe, k-core, spill (2 processes)": ("_load_domains",),
              "items (frame, text)": ("_items_frame", "flatten"), "merge, order": ("_merged", "order_sequences"),
              "parquet files (items, splits)": ("write_parquet", "_write_interactions"),
              "builders": ("TaskBuilder", "_explanations"), "task sets (2 processes)": ("_write_task_sets",),
              "manifest (hashing), card": ("write_manifest_and_card",)}
    prep.TaskBuilder.release_unread = wrap("builders", prep.TaskBuilder.release_unread)
    for stage, names in stages.items():
        for name in names:
            if hasattr(prep, name):  # the stages of an older tree too (before-and-after runs)
                setattr(prep, name, wrap(stage, getattr(prep, name)))
    start_images = prep._write_images

    def images(*a, **kw):  # the start is "the rest"; waiting for the workers is "images"
        return wrap("images (waiting for the workers)", start_images(*a, **kw))
    prep._write_images = images
    t0 = time.perf_counter()
    if sampler:
        sampler.stage = "the rest"
    prep.prepare("amazon2014", raw, out, seed=0, image_size=image_size, scale=scale_name, origin=prep.EMBEDDED_SOURCE)
    total = time.perf_counter() - t0
    seconds["the rest"] = total - sum(seconds.values())
    seconds["total"] = total
    return dict(seconds), peaks


def one_scale(args) -> None:
    """Child process: generate (if needed) and prepare one scale; print one JSON line."""
    from benchmark.data.world import generate_world
    from benchmark.prepare import WORLD_IMAGE_SIZE

    scale = scaled(args.base, args.factor)
    raw, out = args.workdir / f"raw-{scale.name}", args.workdir / f"data-{scale.name}"
    load = os.getloadavg()
    sampler = TreePeak(os.getpid())
    gen = gen_cpu = 0.0
    if args.step in (None, "generate"):
        sampler.stage = "world generation"
        t0, c0 = time.perf_counter(), cpu_seconds()
        generate_world(raw, scale=scale, seed=0, force=True)
        gen, gen_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        sampler.stage = None
    if args.step == "generate":
        sampler.stop()
        print(json.dumps({"generate_s": gen, "generate_cpu_s": gen_cpu,
                          "tree_peaks_gib": {k: v / 2**30 for k, v in sampler.by_stage.items()}}))
        return
    floor = scan_floor(raw)
    for folder in (out, out.parent / f"{out.name}.labels"):  # the data and its labels folder beside it
        shutil.rmtree(folder, ignore_errors=True)
    c0 = cpu_seconds()
    stages, peaks = timed_prepare(raw, out, WORLD_IMAGE_SIZE[args.base], scale.name, sampler)
    sampler.stop()
    manifest = json.loads((out / "manifest.json").read_text())
    print(json.dumps({"scale": scale.name, "generate_s": gen, "generate_cpu_s": gen_cpu, "floor_s": floor,
                      "stages": stages, "stage_peaks_gib": peaks,
                      "tree_peaks_gib": {k: v / 2**30 for k, v in sampler.by_stage.items()}, "prepare_cpu_s": cpu_seconds() - c0,
                      "at_peak": {"stage": sampler.at_peak[0], "main_gib": sampler.at_peak[1] / 2**30,
                                  "others_gib": [v / 2**30 for v in sampler.at_peak[2]]},
                      "max_rss_gib": peak_rss_gib(), "reviews": sum(v["reviews_read"] for v in manifest["reading"].values()),
                      "instances": sum(manifest["instances"].values()), "sha256": manifest["dataset_sha256"],
                      "load": [load[0], os.getloadavg()[0]]}))
    if args.factor > 1:
        for folder in (out, out.parent / f"{out.name}.labels"):
            shutil.rmtree(folder, ignore_errors=True)


def run_tree(cmd: list[str], env: dict) -> tuple[subprocess.CompletedProcess, float, float, float]:
    """Run `cmd`; (its result, wall seconds, CPU seconds of it and its workers, peak tree PSS in GiB). The CPU
    seconds are the children's only, not the sampler's (this process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0 = time.perf_counter(), children.ru_utime + children.ru_stime
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sampler = TreePeak(child.pid)
    stdout, stderr = child.communicate()
    peak = sampler.stop()
    done = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return done, time.perf_counter() - t0, children.ru_utime + children.ru_stime - c0, peak


def whole_command(args, env: dict) -> None:
    """`unimp-bench prepare --scale <base>` into a fresh folder, `args.command` times."""
    out = args.workdir / "command" / f"world-{args.base}"
    cmd = [sys.executable, "-m", "unimp_bench", "prepare", "--scale", args.base, "--out", str(out), "--force"]
    print(f"\n`unimp-bench prepare --scale {args.base}`, a fresh folder each run (world generation included):")
    for _ in range(args.command):
        shutil.rmtree(out.parent, ignore_errors=True)
        load = os.getloadavg()[0]
        done, wall, cpu, peak = run_tree(cmd, env)
        if done.returncode:
            sys.exit(f"the command failed:\n{done.stderr[-2000:]}")
        sha = json.loads((out / "manifest.json").read_text())["dataset_sha256"]
        print(f"  {wall:.1f} s wall, {cpu:.1f} s CPU, peak memory (tree PSS) {peak:.2f} GiB, dataset sha256 "
              f"{sha[:16]}..., load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")
    shutil.rmtree(out.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="paper")
    parser.add_argument("--scales", default="1,2,4", help="comma list of multiples of --base")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "unimp-bench-prepare")
    parser.add_argument("--command", type=int, default=0, metavar="N",
                        help="also run `unimp-bench prepare --scale BASE` N times, a fresh folder each")
    parser.add_argument("--separate", action="store_true",
                        help="generate each world in one process and prepare it in a fresh one, as `prepare` "
                             "runs on raw files already on disk (default: both in one process, as `unimp-bench "
                             "prepare --scale` does); the prepare process's own peak is printed beside")
    parser.add_argument("--factor", type=int, help=argparse.SUPPRESS)  # set in the child process
    parser.add_argument("--step", choices=("generate", "prepare"), help=argparse.SUPPRESS)  # child, --separate
    args = parser.parse_args()
    if args.factor:
        return one_scale(args)
    # PYTHONPATH: the checkout this script lives in is measured, not whichever one is installed
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    rows = []
    for factor in [int(f) for f in args.scales.split(",") if f]:
        cmd = [sys.executable, __file__, "--base", args.base, "--workdir", str(args.workdir), "--factor", str(factor)]
        steps = (["--step", "generate"], ["--step", "prepare"]) if args.separate else ([],)
        parts = []
        for step in steps:
            done, _, _, peak = run_tree(cmd + step, env)
            if done.returncode:
                sys.exit(f"{args.base} x{factor} failed:\n{done.stderr[-2000:]}")
            parts.append((json.loads(done.stdout.strip().splitlines()[-1]), peak))
        row = parts[-1][0]
        if args.separate:  # the generation process's figures into the prepare process's row
            gen_row = parts[0][0]
            row.update(generate_s=gen_row["generate_s"], generate_cpu_s=gen_row["generate_cpu_s"])
            row["tree_peaks_gib"].update(gen_row["tree_peaks_gib"])
        row["peak_gib"] = max(peak for _, peak in parts)
        row["prepare_peak_gib"] = parts[-1][1]
        rows.append(row)
        st = row["stages"]
        print(f"\n{row['scale']}: {row['reviews']:,} reviews, {row['instances']:,} task instances, dataset sha256 "
              f"{row['sha256'][:16]}..., load average {row['load'][0]:.1f} at the start, {row['load'][1]:.1f} at the end")
        tree = row["tree_peaks_gib"]
        print(f"  world generation: {row['generate_s']:.1f}s wall, {row['generate_cpu_s']:.1f}s CPU, "
              f"tree peak (PSS) {tree.get('world generation', 0):.2f} GiB")
        for stage, s in st.items():
            peak = row["stage_peaks_gib"].get(stage)
            print(f"  {stage:<34} {s:7.1f}s" + (f"   tree peak (PSS) {tree[stage]:.2f} GiB" if stage in tree else "")
                  + (f", main process peak RSS so far {peak:.2f} GiB" if peak else ""))
        at = row["at_peak"]
        print(f"  at the tree's peak ({at['stage']}): prepare's own process {at['main_gib']:.2f} GiB, its workers "
              + (", ".join(f"{g:.2f}" for g in at["others_gib"] if g >= 0.01) or "none") + " GiB (PSS)")
        if args.separate:
            print(f"  prepare alone (a fresh process): peak memory of its process tree (PSS) {row['prepare_peak_gib']:.2f} GiB")
        print(f"  prepare CPU {row['prepare_cpu_s']:.1f}s; peak memory of the process tree (PSS) {row['peak_gib']:.2f} GiB "
              f"(largest single process's peak RSS {row['max_rss_gib']:.2f} GiB); scan floor "
              f"{row['floor_s']:.1f}s (prepare = {st['total'] / row['floor_s']:.1f}x the floor)")
    if rows:
        print("\n| scale | reviews | whole command (generation + prepare) | CPU | peak memory (tree PSS) | prepare | "
              "scan floor | prepare / floor | load |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        t = r["stages"]["total"]
        print(f"| {r['scale']} | {r['reviews']:,} | {r['generate_s'] + t:.0f} s | "
              f"{r['generate_cpu_s'] + r['prepare_cpu_s']:.0f} s | {r['peak_gib']:.2f} GiB | {t:.0f} s | "
              f"{r['floor_s']:.0f} s | {t / r['floor_s']:.1f}x | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    if args.command:
        whole_command(args, env)


if __name__ == "__main__":
    main()
