"""`run --device`: auto picks the CPU here, cuda without a GPU is a clear error, and the device reaches the
models' settings (RecBole use_gpu/gpu_id) and the metrics."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchmark.metrics import device
from unimp_bench.cli import app

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@pytest.fixture(autouse=True)
def back_to_cpu():
    yield
    device.use("cpu")


@no_gpu
def test_auto_picks_the_cpu_here():
    assert device.resolve("auto") == "cpu" and device.resolve("CPU") == "cpu"


@no_gpu
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_a_gpu_is_a_clear_error(spec):
    with pytest.raises(device.DeviceError, match=rf"--device {spec}: torch .* sees no CUDA GPU.*--device cpu"):
        device.resolve(spec)


@pytest.mark.parametrize("spec", ["gpu", "auto:1", "cuda:x", "mps"])
def test_unknown_device_names_the_choices(spec):
    with pytest.raises(device.DeviceError, match="choose auto, cpu, cuda or cuda:N"):
        device.resolve(spec)


@no_gpu
def test_run_refuses_cuda_before_writing_anything(tiny_data, tmp_path):
    result = CliRunner().invoke(app, ["run", "--model", "pop", "--data", str(tiny_data), "--out", str(tmp_path / "runs"),
                                      "--device", "cuda"])
    assert result.exit_code == 2 and result.output.startswith("error: --device cuda: ") and "sees no CUDA GPU" in result.output
    assert not (tmp_path / "runs").exists()


def test_the_run_records_its_device(tiny_data, tmp_path):
    import json

    result = CliRunner().invoke(app, ["run", "--model", "pop", "--data", str(tiny_data), "--out", str(tmp_path),
                                      "--run-id", "r", "--task", "recommendation", "--split", "test", "--n-boot", "10",
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "results.json").read_text())["model"]["details"]["device"] == "cpu"


def test_recbole_settings_follow_the_device(monkeypatch, tmp_path):
    pytest.importorskip("recbole")
    from baselines.recbole_export import Export
    from benchmark.api import registry

    model = registry.load("sasrec")(config={}, seed=0, run_dir=tmp_path)
    export = Export(root=tmp_path, name="x", kind="seq", users={}, rows={})
    device.use("cpu")
    d = model.recbole_config_dict(export, Path(tmp_path))
    assert d["use_gpu"] is False
    monkeypatch.setattr(device, "_CURRENT", "cuda:1")  # as device.use("cuda:1") sets it on a two-GPU machine
    d = model.recbole_config_dict(export, Path(tmp_path))
    assert d["use_gpu"] is True and d["gpu_id"] == 1
