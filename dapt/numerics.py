"""The canonical CPU numerical environment: results depend on params and data, not on the
machine's instruction set or core count.

Float results of the same code differ between x86-64 machines when each library picks the
kernels of the widest instruction set it finds, and between thread counts when reductions
are split differently. ``pin_environment`` (called by ``dapt.cli`` at import, so before any
stage or command loads torch) sets, overriding whatever the user's environment holds:

  ATEN_CPU_CAPABILITY=avx2   ATen's vectorised kernels (default: the widest the CPU has,
                             avx512 on AVX-512 machines); read when torch loads
  MKL_CBWR=AVX2              MKL's conditional numerical reproducibility branch (default:
                             the widest, and a vendor-dependent one); BLAS matmuls
  ONEDNN_MAX_CPU_ISA=AVX2    oneDNN's kernels (LSTM, some convolutions/matmuls)
  OMP_DYNAMIC=FALSE          OpenMP may not change the thread count between regions
                             (``OMP_DYNAMIC=true`` changed losses here)

Each one changed the trained weights on this project's machines when set otherwise
(``python -m bench.numerics_cost --probe``). AVX2 (with FMA) is what every supported
machine has: the project's AVX-512 machines run the same AVX2 kernels. The thread count is the
``threads`` param (``use_threads``): identical bytes across thread counts are not possible
(reductions are split per thread, also in MKL's strict mode), so it is part of the
experiment and DVC tracks it. On a GPU none of this applies (CUDA kernels are not bitwise
reproducible).

``DAPT_NUMERICS=native`` leaves the machine's choices in place (faster on AVX-512 machines,
results then match only that kind of machine); ``describe()`` records which mode ran.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "OMP_DYNAMIC": "FALSE",
}
MODE_ENV = "DAPT_NUMERICS"  # "native": keep the machine's kernel choices (not reproducible)
CPU_FLAGS = ("avx2", "fma")  # what the pinned level needs

# Whether torch was already loaded when the environment was pinned (then the machine's
# kernels may run): None until ``pin_environment`` has run.
torch_loaded_at_pin: bool | None = None


def mode() -> str:
    """``pinned`` (the default) or ``native`` (``DAPT_NUMERICS=native``)."""
    return "native" if os.environ.get(MODE_ENV) == "native" else "pinned"


def pin_environment() -> dict[str, str]:
    """Set ``PINNED`` in ``os.environ`` (in ``pinned`` mode); returns the user's values that
    were replaced, by name."""
    global torch_loaded_at_pin
    if torch_loaded_at_pin is None:
        torch_loaded_at_pin = "torch" in sys.modules
    if mode() == "native":
        return {}
    replaced = {k: os.environ[k] for k, v in PINNED.items()
                if os.environ.get(k, v).upper() != v.upper()}
    os.environ.update(PINNED)
    return replaced


def use_threads(threads: int) -> None:
    """Intra-op threads of torch (OpenMP, MKL and oneDNN follow it), whatever
    ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` or torchrun say; also for child processes."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def library_versions() -> dict[str, str]:
    """torch, MKL and oneDNN versions as this torch build reports them."""
    import torch

    config = torch.__config__.show()
    mkl = re.search(r"Math Kernel Library Version (\S+)", config)
    onednn = re.search(r"MKL-DNN v(\S+)", config)
    return {"torch": str(torch.__version__), "mkl": mkl.group(1) if mkl else "none",
            "onednn": onednn.group(1) if onednn else "none"}


def describe(threads: int) -> dict:
    """The numerical environment of this run, for metrics and model cards: identical on every
    machine that can reproduce it (no CPU model, no core count)."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return {"mode": mode(), "device": device, "threads": threads,
            "aten_cpu_capability": torch.backends.cpu.get_cpu_capability().lower(),
            **{k.lower(): os.environ.get(k, "unset") for k in PINNED
               if k != "ATEN_CPU_CAPABILITY"},
            **library_versions()}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is absent)."""
    if not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def problems(recorded: dict | None, threads: int) -> list[str]:
    """Why this machine cannot reproduce a run whose ``describe()`` is ``recorded`` (None:
    compare with the pinned environment alone); empty when it can."""
    found = []
    if mode() == "native":
        found.append(f"{MODE_ENV}=native: the machine's own kernels run")
    missing = [f for f in CPU_FLAGS if f not in cpu_flags()]
    if missing:
        found.append(f"the CPU lacks {', '.join(missing)}: the pinned AVX2 kernels cannot run")
    if torch_loaded_at_pin is not False:
        found.append("torch was loaded before dapt.cli pinned the environment")
    here = describe(threads)
    if here["device"] != "cpu":
        found.append("a GPU is visible: CUDA kernels are not bitwise reproducible "
                     "(CUDA_VISIBLE_DEVICES= hides it)")
    for key, value in (recorded or {}).items():
        if key in here and here[key] != value:
            found.append(f"{key}: {here[key]} here, {value} in the committed run")
    return found


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (for the check's report only, never for results)."""
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main(argv: list[str] | None = None) -> None:
    """``make check-env``: can this machine reproduce the committed results? Compares the
    numerical environment here with the one the committed run recorded; exits 1 if not."""
    import argparse
    import json

    import yaml

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--params", default="params.yaml", help="params file (%(default)s)")
    parser.add_argument("--metrics", default="metrics/pretrain.json",
                        help="metrics of the committed run, with its `numerics` record "
                             "(%(default)s)")
    args = parser.parse_args(argv)
    pin_environment()
    threads = int(yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))["threads"])
    metrics = Path(args.metrics)
    recorded = (json.loads(metrics.read_text(encoding="utf-8")).get("numerics")
                if metrics.is_file() else None)
    flags = cpu_flags()
    print(f"CPU: {cpu_model()}; flags: "
          + " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16") if f in flags))
    for key, value in describe(threads).items():
        print(f"  {key}: {value}" + ("" if recorded is None or recorded.get(key) in (None, value)
                                     else f"   (committed: {recorded[key]})"))
    if recorded is None:
        print(f"{metrics}: no numerics record to compare with")
    found = problems(recorded, threads)
    if found:
        print("This machine cannot reproduce the committed results bit for bit:")
        print("\n".join(f"  - {p}" for p in found))
        raise SystemExit(1)
    print(f"This machine can reproduce the committed results ({metrics}, threads={threads}).")


if __name__ == "__main__":
    main()
