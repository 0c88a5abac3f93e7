"""Typed model settings: every model declares its settings once (a dataclass, a help comment per field);
one checker validates a config against it; the CLI refuses a bad config before writing anything."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baselines import recbole_settings
from benchmark.api import registry
from benchmark.api.config_schema import ConfigError, check, check_model_config, describe_settings
from benchmark.api.registry import MODELS
from unimp_bench.cli import app

ROOT = Path(__file__).resolve().parents[1]
# the models of benchmark.api.registry (other test modules register throw-away models of their own)
INDEXED = sorted(n for n, (target, *_) in MODELS.items() if not target.split(":")[0].split(".")[-1].startswith("test_"))


def defaults(settings) -> dict:
    return {name: default for name, _, default, _ in describe_settings(settings, raw=True)}


# ---- declarations -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", INDEXED)
def test_every_model_declares_settings_whose_defaults_validate(name):
    settings = registry.settings(name)
    assert dataclasses.is_dataclass(settings), name
    check(settings, defaults(settings), where=name)  # raises on a default that breaks its own type
    for key, type_name, _, help_text in describe_settings(settings):
        assert type_name and help_text, f"{name}: setting {key} lacks a type or a help comment"


def test_model_classes_use_the_registered_declaration():
    """The class a run builds validates against the same dataclass `models NAME` prints."""
    for name in INDEXED:
        if name == "unimp":
            pytest.importorskip("torch")
        if name in ("mf", "lightgcn", "hgn", "gru4rec", "sasrec", "bert4rec", "s3rec"):
            pytest.importorskip("recbole")
        assert registry.load(name).Settings is registry.settings(name), name


# ---- the checker ------------------------------------------------------------------------------------
def test_unknown_key_lists_valid_keys_and_suggests_the_close_match():
    with pytest.raises(ConfigError) as e:
        check_model_config("sasrec", {"epoch": 3})
    msg = str(e.value)
    assert "'epoch'" in msg and "did you mean 'epochs'?" in msg
    assert "learning_rate" in msg and "MAX_ITEM_LIST_LENGTH" in msg  # the valid keys are listed
    with pytest.raises(ConfigError, match="takes no settings"):
        check_model_config("pop", {"epochs": 1})
    with pytest.raises(ConfigError, match="pretrain_epochs"):  # S3-Rec's key is not MF's
        check_model_config("mf", {"pretrain_epochs": 1})


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(ConfigError, match=r"'epochs' must be int, got \"three\""):
        check_model_config("sasrec", {"epochs": "three"})
    with pytest.raises(ConfigError, match=r"'epochs'.*int"):
        check_model_config("sasrec", {"epochs": 2.5})
    with pytest.raises(ConfigError, match=r"'lambdas'.*list of float"):
        check_model_config("mean-rating", {"lambdas": "0,1"})
    with pytest.raises(ConfigError, match=r"'lambdas'.*list of float"):
        check_model_config("mean-rating", {"lambdas": [0, "x"]})
    with pytest.raises(ConfigError, match=r"'exclusive_mask'.*bool"):  # 1 is not a bool
        check_model_config("unimp", {"exclusive_mask": 1})
    with pytest.raises(ConfigError, match=r"'lm_args'.*dict"):
        check_model_config("unimp", {"lm_args": [1, 2]})
    with pytest.raises(ConfigError, match=r"'max_steps'.*int or null"):
        check_model_config("unimp", {"max_steps": "10"})
    with pytest.raises(ConfigError, match="JSON object"):
        check_model_config("sasrec", [1, 2])


def test_accepted_forms_and_conversions():
    check_model_config("sasrec", {"learning_rate": 1, "epochs": 3, "clip_grad_norm": {"max_norm": 5}})
    check_model_config("unimp", {"max_steps": None, "time_budget_s": 60, "train_tasks": ["rating"],
                                 "select_on": "loss", "lm_args": {"hidden_size": 64}})
    s = check(registry.settings("mean-rating"), {"lambdas": [0, 1]})
    assert s.lambdas == (0.0, 1.0) and all(isinstance(x, float) for x in s.lambdas)
    s = check(registry.settings("bm25-personal"), {"weight": 1})
    assert s.weight == 1.0 and isinstance(s.weight, float)


def test_unimp_preset_then_overrides_is_validated_merged():
    check_model_config("unimp", {"preset": "paper", "fusion": "none"})
    with pytest.raises(ConfigError, match="fusion"):
        check_model_config("unimp", {"preset": "paper", "fusion": "bogus"})
    with pytest.raises(ConfigError, match="no such UniMP preset.*tiny"):
        check_model_config("unimp", {"preset": "nope"})
    with pytest.raises(ConfigError, match="did you mean 'max_steps'"):
        check_model_config("unimp", {"preset": "tiny", "max_step": 3})


def test_unimp_preset_file_is_checked_too(tmp_path):
    bad = tmp_path / "mine.json"
    bad.write_text('{"lr": "fast"}')
    with pytest.raises(ConfigError, match=r"mine.json.*'lr'.*float"):
        check_model_config("unimp", {"preset": str(bad)})


# ---- the CLI ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["--set", "no_such_key=1"],
    ["--set", "weights=abc"],                       # a list setting given a word
    ["--config", '{"history_lenght": 3}'],         # typo in --config
    ["--set", "history_length"],                   # no '='
])
def test_cli_run_refuses_a_bad_config_before_writing_anything(args, tiny_data, tmp_path):
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", "--model", "bm25-personal", "--task", "search", "--split", "test",
                                      "--data", str(tiny_data), "--out", str(out), "--n-boot", "10", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_cli_run_suggests_the_close_key(tiny_data, tmp_path):
    result = CliRunner().invoke(app, ["run", "--model", "bm25-personal", "--data", str(tiny_data),
                                      "--out", str(tmp_path / "runs"), "--set", "history_lenght=3"])
    assert result.exit_code == 2 and "did you mean 'history_length'?" in result.stderr


def test_cli_models_name_prints_each_setting():
    for name in ("sasrec", "bm25-personal", "unimp", "pop"):
        result = CliRunner().invoke(app, ["models", name])
        assert result.exit_code == 0, result.output
        for key, type_name, default, help_text in describe_settings(registry.settings(name)):
            line = next((ln for ln in result.stdout.splitlines() if ln.split()[:1] == [key]), None)
            assert line is not None, f"{name}: {key} not printed"
            assert type_name in line and default in line and help_text[:30] in line
    assert "no settings" in CliRunner().invoke(app, ["models", "pop"]).stdout
    listing = CliRunner().invoke(app, ["models"])
    assert listing.exit_code == 0 and all(name in listing.stdout for name in INDEXED)
    bad = CliRunner().invoke(app, ["models", "sasrek"])
    assert bad.exit_code == 2 and "did you mean 'sasrec'" in bad.stderr


def test_listing_and_checking_import_no_heavy_module():
    code = ("import sys; from typer.testing import CliRunner; from unimp_bench.cli import app; "
            "from benchmark.api.config_schema import check_model_config as c; "
            "[CliRunner().invoke(app, ['models', n]) for n in ('sasrec', 'unimp', 's3rec')]; "
            "c('unimp', {'preset': 'paper'}); c('sasrec', {'epochs': 1}); "
            "heavy = [m for m in ('torch', 'recbole', 'transformers', 'open_clip') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---- the declaration is what the model reads ------------------------------------------------------------
def test_simple_baselines_read_their_declared_settings():
    """Each setting of a simple baseline, given a non-default value, is the value the model uses."""
    given = {"bm25-personal": {"history_length": 2, "weights": [0.25, 0.75], "max_valid": 7, "weight": 0.5},
             "mean-rating": {"lambdas": [3, 4]}, "mean-rating-star": {"lambdas": [3]},
             "nearest-review": {"max_words": 9, "batch_size": 4}}
    for name in INDEXED:
        settings = registry.settings(name)
        if not registry.MODELS[name].target.startswith("baselines.simple") or not dataclasses.fields(settings):
            continue
        assert set(given[name]) == {f.name for f in dataclasses.fields(settings)}, name  # every setting tried
        model = registry.load(name)(config=given[name])
        for key, value in given[name].items():
            got = getattr(model, key)
            assert list(got) == value if isinstance(value, list) else got == value, (name, key, got)


def test_mean_rating_fits_with_the_given_lambda(tiny_data):
    from benchmark.data.dataset import PreparedDataset

    model = registry.load("mean-rating")(config={"lambdas": [777]})
    model.fit(PreparedDataset(tiny_data), "main")
    assert model.selection["main"]["lambda"] == 777.0


RECBOLE = ("mf", "lightgcn", "hgn", "gru4rec", "sasrec", "bert4rec", "s3rec")
OURS = set(recbole_settings.OURS)  # read by the wrapper itself, not by RecBole


@pytest.mark.parametrize("name", RECBOLE)
def test_recbole_settings_are_recbole_keys_with_recbole_defaults(name):
    """Every declared RecBole setting names a key of RecBole's own Config for that model, with its default."""
    pytest.importorskip("recbole")
    from benchmark.data import compat

    compat.apply()
    from recbole.config import Config

    cls = registry.load(name)
    config = Config(model=cls.recbole_model, dataset="unimp_bench_settings_check",
                    config_dict={"use_gpu": False, "train_neg_sample_args": None if cls.loss == "CE" else {}})
    for key, default in defaults(cls.Settings).items():
        if key in OURS:
            continue
        assert key in config.final_config_dict, f"{name}: {key} is not a RecBole key"
        assert config[key] == (list(default) if isinstance(default, tuple) else default), (name, key)


def test_recbole_setting_reaches_recbole_config(tmp_path):
    pytest.importorskip("recbole")
    from baselines.recbole_export import Export

    model = registry.load("sasrec")(config={"hidden_size": 16, "n_heads": 4, "learning_rate": 0.01}, run_dir=tmp_path)
    export = Export(root=tmp_path, name="main_seq", kind="seq", users={}, rows={}, max_hist=5)
    d = model.recbole_config_dict(export, tmp_path / "ckpt")
    assert (d["hidden_size"], d["n_heads"], d["learning_rate"]) == (16, 4, 0.01)
    with pytest.raises(ConfigError, match="did you mean 'hidden_size'"):
        registry.load("sasrec")(config={"hiden_size": 16})
