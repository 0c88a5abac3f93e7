"""`unimp-bench plot`: scores with intervals and training curves as PNG and SVG; bad input is an error."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from benchmark.eval.evaluator import RunOptions, run
from unimp_bench.cli import app


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def two_runs(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    return [run(tiny_data, out, RunOptions(model=m, tasks=("recommendation", "rating"), splits=("test",), n_boot=10,
                                           run_id=m)) for m in ("pop", "random")]


def test_scores_and_curves_as_png_and_svg(two_runs, tmp_path):
    (two_runs[1] / "curves.csv").write_text("regime,phase,step,name,value\nin_domain,train,1,loss,2.5\n"
                                            "in_domain,train,2,loss,2.1\nin_domain,valid,1,mrr@10,0.1\n")
    result = cli("plot", *two_runs, "--out", tmp_path / "fig")
    assert result.exit_code == 0, result.output
    for stem in ("scores", "curves"):
        assert (tmp_path / "fig" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        svg = (tmp_path / "fig" / f"{stem}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "wrote" in result.output and "scores.svg" in result.output


def test_bad_input_is_an_error(two_runs, tmp_path):
    result = cli("plot", tmp_path)
    assert result.exit_code == 2 and "results.json" in result.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text((two_runs[0] / "results.json").read_text())
    (bad / "curves.csv").write_text("regime,phase,step,name,value\nx,train,one,loss,1\n")
    result = cli("plot", bad, "--out", tmp_path / "o")
    assert result.exit_code == 2 and "curves.csv line 2" in result.output
    assert cli("plot", two_runs[0], "--split", "tset").exit_code == 2
