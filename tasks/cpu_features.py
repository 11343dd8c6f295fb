"""What this CPU can do for model inference: its name and the instruction sets that decide the dtype.

bf16 weights are fast on a CPU only where it multiplies bf16 matrices natively: Intel AMX
(`amx_bf16` with `amx_tile`, Xeon 4th generation "Sapphire Rapids" on) or AVX512-BF16
(`avx512_bf16`: Xeon 3rd generation "Cooper Lake", AMD Zen 4 on). There the shipped MiniLM
tagger ran 3.8x faster in bf16 than in fp32 with 99.97% of its argmax labels the same (issue 18);
on an AVX2-only CPU oneDNN emulates bf16 and it is slower than fp32. The flags come from Linux's
/proc/cpuinfo (the kernel lists AMX only where it enabled the tile state), else from the cpuinfo
library torch ships (`torch.cpu._is_*_supported`, macOS and Windows). ARM's `bf16` feature
(Graviton 3) is read but not counted as native: nobody has measured it for litmine yet.

oneDNN, which runs torch's bf16 matrix multiplies, can be held below what the CPU has with
`ONEDNN_MAX_CPU_ISA` (e.g. `AVX2`; oneDNN's "CPU dispatcher control"): then the flags above that
level do not count, so a capped Xeon picks fp32 as an AVX2-only CPU does (`cap_to_isa`).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

#: The flags that decide the dtype, as /proc/cpuinfo spells them, and how they are shown.
SHOWN_FLAGS = {"amx_bf16": "AMX-BF16", "amx_tile": "AMX-TILE", "avx512_bf16": "AVX512-BF16",
               "avx512f": "AVX512F", "avx2": "AVX2"}
CPUINFO = Path("/proc/cpuinfo")
#: oneDNN's x64 ISA levels, lowest first (its `ONEDNN_MAX_CPU_ISA` values; AVX10_1_512 is
#: AVX512_CORE_FP16), and the deciding flags each level is the first to use.
ONEDNN_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
               "AVX512_CORE_VNNI", "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX10_1_512",
               "AVX512_CORE_AMX", "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16",
               "AVX10_1_512_AMX_FP16")
_FIRST_USED_AT = {"avx2": "AVX2", "avx512f": "AVX512_CORE", "avx512_bf16": "AVX512_CORE_BF16",
                  "amx_bf16": "AVX512_CORE_AMX", "amx_tile": "AVX512_CORE_AMX"}
#: The variables oneDNN reads for its cap (the second is its older name).
ISA_CAP_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


@dataclass(frozen=True)
class CpuFeatures:
    """A CPU's model name and its instruction-set flags (lower case, /proc/cpuinfo's names)."""

    model_name: str
    flags: frozenset[str]
    #: The oneDNN ISA cap these flags were cut to ("" for none): see `cap_to_isa`.
    isa_cap: str = ""

    @property
    def amx_bf16(self) -> bool:
        """AMX tiles with bf16 matrix multiply (both flags: the tile state must be enabled)."""
        return {"amx_bf16", "amx_tile"} <= self.flags

    @property
    def avx512_bf16(self) -> bool:
        return "avx512_bf16" in self.flags

    @property
    def native_bf16(self) -> bool:
        """Whether bf16 matrix multiply runs in hardware (AMX or AVX512-BF16)."""
        return self.amx_bf16 or self.avx512_bf16

    def bf16_units(self) -> str:
        """The native bf16 units by name ("AMX-BF16, AVX512-BF16"), or "" for none."""
        return ", ".join(name for name, on in (("AMX-BF16", self.amx_bf16),
                                               ("AVX512-BF16", self.avx512_bf16)) if on)

    def describe(self) -> str:
        """One line for logs and benchmarks: the model name and which deciding flags it has."""
        shown = ", ".join(f"{label} {'yes' if flag in self.flags else 'no'}"
                          for flag, label in SHOWN_FLAGS.items())
        capped = f"; oneDNN capped at {self.isa_cap}" if self.isa_cap else ""
        return f"{self.model_name or 'unknown CPU'} ({shown}{capped})"


def cap_to_isa(features: CpuFeatures, isa: str | None) -> CpuFeatures:
    """`features` without the deciding flags above oneDNN ISA level `isa` (a `ONEDNN_MAX_CPU_ISA`
    value, any case); unchanged for no cap, "ALL"/"DEFAULT" or a level litmine does not know."""
    level = (isa or "").strip().upper()
    if level not in ONEDNN_ISAS:
        return features
    rank = ONEDNN_ISAS.index(level)
    kept = frozenset(f for f in features.flags
                     if f not in _FIRST_USED_AT or ONEDNN_ISAS.index(_FIRST_USED_AT[f]) <= rank)
    return replace(features, flags=kept, isa_cap=level)


def isa_cap_from_environment() -> str:
    """The oneDNN ISA cap this process runs under (`ONEDNN_MAX_CPU_ISA`), or ""."""
    return next((os.environ[v] for v in ISA_CAP_VARIABLES if os.environ.get(v, "").strip()), "")


def parse_cpuinfo(text: str) -> CpuFeatures:
    """The features of the first processor in a /proc/cpuinfo text (x86 `flags`, ARM `Features`).

    All cores of a machine report the same flags, so the first block is enough.
    """
    name, flags = "", frozenset()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            if name and flags:
                break  # the end of the first processor's block
            continue
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not name:
            name = " ".join(value.split())
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.lower().split())
    return CpuFeatures(name, flags)


def features_from_torch() -> CpuFeatures:
    """The deciding flags as torch's bundled cpuinfo library sees them (no /proc/cpuinfo)."""
    import torch

    probes = {"amx_bf16": "_is_amx_tile_supported", "amx_tile": "_is_amx_tile_supported",
              "avx512_bf16": "_is_avx512_bf16_supported", "avx512f": "_is_avx512_supported",
              "avx2": "_is_avx2_supported"}
    flags = set()
    for flag, probe in probes.items():
        check = getattr(torch.cpu, probe, None)
        try:
            if check is not None and check():
                flags.add(flag)
        except RuntimeError:  # cpuinfo could not initialise: claim nothing
            pass
    return CpuFeatures(platform.processor() or platform.machine(), frozenset(flags))


@lru_cache(maxsize=1)
def read_cpu_features() -> CpuFeatures:
    """This machine's features, as far as oneDNN may use them (`ONEDNN_MAX_CPU_ISA`)."""
    return cap_to_isa(_machine_features(), isa_cap_from_environment())


def _machine_features() -> CpuFeatures:
    """This machine's features: /proc/cpuinfo where there is one, else torch's probes."""
    try:
        features = parse_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        features = None
    if features is None or not features.flags:
        fallback = features_from_torch()
        return CpuFeatures(features.model_name if features and features.model_name
                           else fallback.model_name, fallback.flags)
    return features


def default_cpu_dtype(features: CpuFeatures | None = None) -> str:
    """ "bf16" on a CPU with native bf16 matrix multiply (AMX or AVX512-BF16), else "fp32"."""
    features = features or read_cpu_features()
    return "bf16" if features.native_bf16 else "fp32"
