"""The CPUs the portability layer emulates on this one.

A stored output must not depend on the machine that stored it. Two libraries choose their
kernels by the CPU they find, and both can be told to act as an older CPU:

* torch reads ``ATEN_CPU_CAPABILITY`` (``default``, ``avx2``, ``avx512``) and never uses a
  level above the one it is given;
* numpy reads ``NPY_DISABLE_CPU_FEATURES``, a list of the dispatch targets it must not use
  (``np.lib.introspect.opt_func_info`` shows what each ufunc then runs).

``OPENBLAS_CORETYPE`` is left as the machine sets it: some machines set it on purpose.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class CpuConfig:
    """An emulated CPU: the environment that makes torch and numpy act as that CPU."""

    name: str
    description: str
    environment: tuple[tuple[str, str], ...]

    def env(self) -> dict[str, str]:
        return dict(self.environment)

    def same_as_native(self) -> str | None:
        """Why this configuration runs exactly what the native one runs, or None if it does not.

        torch never uses a level above the one it finds, and numpy cannot disable a target the
        CPU lacks: on a CPU whose best level is the emulated one, the two are the same run.
        """
        env = self.env()
        if env.get("NPY_DISABLE_CPU_FEATURES", "").split():
            return None
        requested = env.get("ATEN_CPU_CAPABILITY")
        if requested is not None and requested.upper() != torch_native_capability():
            return None
        return (
            f"torch's native level is {torch_native_capability()} and numpy has no SIMD target "
            "above it here, so this is the native run"
        )


_PROBE = """
import json
import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print(json.dumps({"found": [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]}))
"""

# x86-64 dispatch targets above AVX2 (X86_V3): AVX-512 and its extensions.
_ABOVE_AVX2 = (
    "X86_V4",
    "AVX512F",
    "AVX512_SKX",
    "AVX512_ICL",
    "AVX512_SPR",
    "AVX512_CLX",
    "AVX512_CNL",
    "AVX512_KNL",
    "AVX512_KNM",
    "AVX512FP16",
)


_TORCH_PROBE = "import torch; print(torch.backends.cpu.get_cpu_capability())"


@cache
def torch_native_capability() -> str:
    """The kernel level torch picks on this CPU when nothing is requested (``AVX2``, …)."""
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    result = subprocess.run(
        [sys.executable, "-c", _TORCH_PROBE], capture_output=True, text=True, check=True, env=env
    )
    return result.stdout.strip().upper()


@cache
def numpy_dispatch_targets() -> tuple[str, ...]:
    """The SIMD targets numpy found on this CPU, above its compiled-in baseline."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    return tuple(json.loads(result.stdout)["found"])


def emulated_configs() -> list[CpuConfig]:
    """The emulated CPUs, oldest first; the machine's native level is the plain nbval run.

    * ``baseline``: torch's ``default`` (scalar) kernels and numpy at its compiled baseline, as
      on an old or a non-x86 CPU;
    * ``avx2``: torch's ``avx2`` kernels and numpy with nothing above AVX2 (x86-64 only), as on
      most laptops of the last ten years.

    Where a level is above what this CPU has, the libraries fall back to what it has, so the
    configuration still runs (it then shows what this CPU does at that level).
    """
    found = numpy_dispatch_targets()
    configs = [
        CpuConfig(
            "baseline",
            "torch default kernels, numpy baseline SIMD",
            (
                ("ATEN_CPU_CAPABILITY", "default"),
                ("NPY_DISABLE_CPU_FEATURES", " ".join(found)),
            ),
        )
    ]
    if platform.machine().lower() in {"x86_64", "amd64"}:
        above = [f for f in found if f in _ABOVE_AVX2 or f.startswith("AVX512")]
        configs.append(
            CpuConfig(
                "avx2",
                "torch avx2 kernels, numpy up to AVX2",
                (
                    ("ATEN_CPU_CAPABILITY", "avx2"),
                    ("NPY_DISABLE_CPU_FEATURES", " ".join(above)),
                ),
            )
        )
    return configs
