"""The lines every NER benchmark prints first: the CPU and its bf16 units, the dtype, torch threads.

Timings from two machines compare only with these beside them: bf16 runs 3.8x faster than fp32
on a CPU with AMX, and slower than fp32 on one with AVX2 only (issue 18).
"""

from __future__ import annotations

import torch

from litmine.tasks.cpu_features import read_cpu_features
from litmine.tasks.loading import DtypeChoice, choose_dtype, relation_dtype, resolve_device


def choose_benchmark_dtype(dtype: str, device: str) -> DtypeChoice:
    """The dtype a benchmark runs the NER model in ("auto" as `litmine mine` resolves it)."""
    return choose_dtype(dtype, resolve_device(device), "NER")


def machine_lines(choice: DtypeChoice) -> list[str]:
    """The CPU (model name and the flags that decide the dtype), the dtypes and why, torch."""
    relations = relation_dtype(choice)
    return [f"cpu: {read_cpu_features().describe()}",
            f"dtype: {choice.name} ({choice.reason})",
            f"relations dtype (in `mine`): {relations.name} ({relations.reason})",
            f"torch {torch.__version__}: {torch.get_num_threads()} threads, CPU kernels "
            f"{torch.backends.cpu.get_cpu_capability()}"]


def machine_figures(choice: DtypeChoice) -> dict:
    """The same, for a benchmark's JSON output."""
    features = read_cpu_features()
    return {"cpu": features.model_name, "amx_bf16": features.amx_bf16,
            "avx512_bf16": features.avx512_bf16, "avx2": "avx2" in features.flags,
            "dtype": choice.name, "dtype_reason": choice.reason,
            "relation_dtype": relation_dtype(choice).name,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def host_lines() -> list[str]:
    """The CPU, the cores this process may use and the load on them (for benchmarks without a
    model, whose timings depend on what else the machine runs)."""
    import os

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"cpu: {read_cpu_features().describe()}",
            f"cores usable: {len(os.sched_getaffinity(0))} of {os.cpu_count()}; load average "
            f"(1, 5, 15 min): {load}"]


def print_machine(choice: DtypeChoice) -> None:
    """Print `machine_lines` (at the top of a benchmark's output)."""
    print("\n".join(machine_lines(choice)), flush=True)
