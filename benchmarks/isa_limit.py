"""Run a benchmark as on a CPU with fewer instruction sets: `--isa avx2` on an AMX Xeon.

No AVX2-only machine may be at hand when an AVX2 figure is wanted (issue 18's second CPU
class). The three libraries that pick kernels by CPU each take a cap from the environment,
read once at start-up: oneDNN (torch's bf16 and some fp32 matrix multiplies)
`ONEDNN_MAX_CPU_ISA`, Intel MKL (torch's fp32 GEMM) `MKL_ENABLE_INSTRUCTIONS`, and ATen's
vectorised kernels `ATEN_CPU_CAPABILITY`. `limit_isa` sets all three and re-runs the script, so
that every import (and every child process, which inherits the environment) sees them; litmine's
`--dtype auto` then picks what it picks on such a CPU (`litmine.tasks.cpu_features.cap_to_isa`).
What it cannot change: clocks, caches and memory bandwidth stay the host's, so the figures are
an emulation, to be labelled as such beside those of a real AVX2-only CPU.
"""

from __future__ import annotations

import os
import sys

#: The environment of each cap.
ISA_ENVIRONMENTS = {
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ATEN_CPU_CAPABILITY": "avx2"},
}


def limit_isa(isa: str | None) -> None:
    """Re-run this script with `isa`'s caps in the environment (no-op for None or once set)."""
    if not isa:
        return
    wanted = ISA_ENVIRONMENTS[isa]
    if all(os.environ.get(k) == v for k, v in wanted.items()):
        print(f"instruction sets capped at {isa.upper()} (emulated: "
              + ", ".join(f"{k}={v}" for k, v in wanted.items()) + ")", flush=True)
        return
    os.environ.update(wanted)
    os.execv(sys.executable, [sys.executable, *sys.argv])
