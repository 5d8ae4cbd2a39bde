"""The pinned numerical environment (dapt.numerics): every entry point pins it before torch
loads, a user's settings are overridden, the record and the machine check say the truth.
(That the pin makes bytes identical is shown end to end in tests/test_pipeline.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from dapt import numerics
from tests.helpers import REPO

STAGE_MODULES = sorted({
    stage["cmd"].split("python -m ", 1)[1].split()[0]
    for path in ("dvc.yaml", "general/dvc.yaml")
    for stage in yaml.safe_load((REPO / path).read_text(encoding="utf-8"))["stages"].values()
})
# Commands that compute floats with torch in their own process.
COMMANDS = ["dapt.predict", "dapt.export", "dapt.experiments.reference_rows"]
USER_ENV = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
            "ONEDNN_MAX_CPU_ISA": "SSE41", "OMP_DYNAMIC": "true"}


def imported(module: str, env: dict[str, str]) -> dict:
    """Import ``module`` in a fresh interpreter; whether torch came before the pin, and the
    pinned variables as the process then sees them."""
    code = ("import importlib, json, os, sys; importlib.import_module(sys.argv[1]); "
            "from dapt import numerics; "
            "print(json.dumps({'torch_first': numerics.torch_loaded_at_pin, "
            "'torch': 'torch' in sys.modules, "
            "'env': {k: os.environ.get(k) for k in numerics.PINNED}}))")
    out = subprocess.run([sys.executable, "-c", code, module], cwd=REPO, check=True,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **env},
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize("module", STAGE_MODULES + COMMANDS)
def test_every_entry_point_pins_the_environment_before_torch_loads(module):
    seen = imported(module, USER_ENV)
    assert seen["torch_first"] is False, f"{module} loads torch before dapt.cli pins"
    assert seen["env"] == numerics.PINNED


def test_the_check_would_catch_torch_loaded_first():
    seen = imported("torch", {})  # torch first, then dapt.numerics, never dapt.cli
    assert seen["torch"] and seen["torch_first"] is None  # never pinned at all
    code = "import torch, dapt.cli; from dapt import numerics; print(numerics.torch_loaded_at_pin)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "True"


def test_pin_replaces_the_users_values_and_says_which(monkeypatch):
    for key, value in USER_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MKL_CBWR", "avx2")  # the same level, spelt otherwise: not replaced
    monkeypatch.delenv(numerics.MODE_ENV, raising=False)
    replaced = numerics.pin_environment()
    assert replaced == {k: v for k, v in USER_ENV.items() if k != "MKL_CBWR"}
    for key, value in numerics.PINNED.items():
        assert numerics.os.environ[key] == value


def test_native_mode_keeps_the_machines_choices(monkeypatch):
    monkeypatch.setenv(numerics.MODE_ENV, "native")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    assert numerics.pin_environment() == {}
    assert numerics.os.environ["ATEN_CPU_CAPABILITY"] == "default"
    assert any("native" in p for p in numerics.problems(None, 1))


def test_threads_follow_the_param(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    try:
        numerics.use_threads(1)
        assert torch.get_num_threads() == 1
        assert numerics.os.environ["OMP_NUM_THREADS"] == "1"
        assert numerics.describe(1)["threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_record_names_versions_and_levels_but_not_the_machine():
    record = numerics.describe(2)
    assert set(record) == {"mode", "device", "threads", "aten_cpu_capability", "mkl_cbwr",
                           "onednn_max_cpu_isa", "omp_dynamic", "torch", "mkl", "onednn"}
    assert record["torch"].startswith("2.13.0")
    assert numerics.cpu_model() not in json.dumps(record)


def test_problems_name_what_differs(monkeypatch):
    monkeypatch.delenv(numerics.MODE_ENV, raising=False)
    monkeypatch.setattr(numerics, "torch_loaded_at_pin", False)
    here = numerics.describe(2)
    monkeypatch.setattr(numerics, "cpu_flags", lambda: {"avx2", "fma"})
    assert numerics.problems(here, 2) == []
    other = {**here, "torch": "2.14.1", "threads": 1}
    found = numerics.problems(other, 2)
    assert f"torch: {here['torch']} here, 2.14.1 in the committed run" in found
    assert "threads: 2 here, 1 in the committed run" in found
    monkeypatch.setattr(numerics, "cpu_flags", lambda: {"sse4_2"})
    assert any("lacks avx2, fma" in p for p in numerics.problems(here, 2))


def test_cpuinfo_is_read(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 fma\n")
    assert numerics.cpu_flags(cpuinfo) == {"fpu", "avx2", "fma"}
    assert numerics.cpu_model(cpuinfo) == "Some CPU"
    assert numerics.cpu_flags(tmp_path / "absent") == set()


def test_check_env_compares_with_the_committed_record(tmp_path):
    record = numerics.describe(2)
    metrics = tmp_path / "pretrain.json"
    metrics.write_text(json.dumps({"numerics": {**record, "torch": "0.0.0"}}))
    params = tmp_path / "params.yaml"
    params.write_text("threads: 2\n")
    proc = subprocess.run([sys.executable, "-m", "dapt.numerics", "--params", str(params),
                           "--metrics", str(metrics)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "cannot reproduce" in proc.stdout and "0.0.0 in the committed run" in proc.stdout
