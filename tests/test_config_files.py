"""--config YAML or JSON; the example configs/ validate against their model's settings; `models NAME` lists
tasks and presets; the registry's verbs are the classes' own."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmark.api import VERBS, Model, registry
from benchmark.api.config_schema import ConfigError, check_model_config, load_config_text
from unimp_bench.cli import app

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FILES = sorted(CONFIGS.glob("*.yaml"))


def model_of(path: Path) -> str:
    return next(n for n in sorted(registry.MODELS, key=len, reverse=True) if path.stem.startswith(n))


def test_every_model_with_settings_has_an_example():
    have = {model_of(p) for p in FILES}
    need = {n for n, e in registry.MODELS.items() if e.settings != registry.NO_SETTINGS}
    assert need <= have, need - have


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_config_is_valid_for_its_model(path):
    cfg = load_config_text(str(path))
    assert isinstance(cfg, dict) and cfg
    if "unimp-paper" in path.name:  # needs local model files: only its keys and types are checked
        cfg = {k: v for k, v in cfg.items() if k not in ("lm_path", "vision_checkpoint")}
    check_model_config(model_of(path), cfg)


def test_yaml_and_json_files_and_inline_json(tmp_path):
    (tmp_path / "a.yaml").write_text("epochs: 3\nlearning_rate: 1.0e-3\n")
    (tmp_path / "a.json").write_text('{"epochs": 3}')
    assert load_config_text(str(tmp_path / "a.yaml")) == {"epochs": 3, "learning_rate": 0.001}
    assert load_config_text(str(tmp_path / "a.json")) == {"epochs": 3} == load_config_text('{"epochs": 3}')
    (tmp_path / "bad.yaml").write_text("epochs: 3\n  lr: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml line \d+: not valid YAML"):
        load_config_text(str(tmp_path / "bad.yaml"))
    (tmp_path / "obj.yaml").write_text("x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="obj.yaml"):  # the safe loader: data only, never objects
        load_config_text(str(tmp_path / "obj.yaml"))


def test_run_reads_a_yaml_config_and_names_a_bad_one(tiny_data, tmp_path):
    (tmp_path / "bad.yaml").write_text("epochs: [\n")
    result = CliRunner().invoke(app, ["run", "--model", "sasrec", "--data", str(tiny_data), "--config",
                                      str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "bad.yaml line" in result.output
    (tmp_path / "typo.yaml").write_text("epochz: 3\n")
    result = CliRunner().invoke(app, ["run", "--model", "sasrec", "--data", str(tiny_data), "--config",
                                      str(tmp_path / "typo.yaml")])
    assert result.exit_code == 2 and "epochz" in result.output and "epochs" in result.output


def test_models_name_lists_tasks_and_presets():
    out = CliRunner().invoke(app, ["models", "unimp"]).output
    assert "tasks: recommendation, search, search-catalogue, selection, rating, explanation, image" in out
    assert "presets (--set preset=NAME):" in out
    assert all(any(line.split()[:1] == [p] for line in out.splitlines()) for p in ("tiny", "smollm", "paper"))
    out = CliRunner().invoke(app, ["models", "mean-rating"]).output
    assert "tasks: rating (verbs: predict_rating" in out


def test_registry_verbs_are_the_classes_own():
    pytest.importorskip("torch")
    for name, entry in registry.MODELS.items():
        if entry.target.split(":")[0].split(".")[-1].startswith("test_"):
            continue  # throw-away models other test modules register
        cls = registry.load(name)
        own = tuple(v for v in VERBS if getattr(cls, v, None) is not getattr(Model, v, None))
        assert entry.verbs == own, name
