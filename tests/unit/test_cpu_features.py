"""The NER dtype by CPU capability: /proc/cpuinfo texts parsed, "auto" resolved, overrides honoured;
the relation encoders' dtype follows NER's.

The cpuinfo excerpts are real lines (trimmed to the flags that matter and a few around them) of
an Intel Xeon Platinum 8480+ (Sapphire Rapids: AMX and AVX512-BF16), an AMD EPYC 9654 (Zen 4:
AVX512-BF16, no AMX) and an AMD EPYC 7742 (Zen 2: AVX2 only).
"""

from __future__ import annotations

import logging

import pytest
import torch
from pydantic import ValidationError
from typer.testing import CliRunner

from litmine.errors import ModelError
from litmine.flows.pipeline import choose_ner_dtype
from litmine.settings import DEFAULT_LEXICON, Settings, get_settings
from litmine.tasks.cpu_features import (CpuFeatures, cap_to_isa, default_cpu_dtype, parse_cpuinfo,
                                       read_cpu_features)
from litmine.tasks.loading import DTYPE_NAMES, choose_dtype, relation_dtype

SAPPHIRE_RAPIDS = """\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl \
avx_vnni avx512_bf16 avx512_vnni amx_bf16 avx512_fp16 amx_tile amx_int8

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx f16c avx2
"""
ZEN4 = """\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9654 96-Core Processor
flags\t\t: fpu vme sse sse2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl \
avx512_bf16 avx512_vnni avx512_bitalg
"""
ZEN2 = """\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7742 64-Core Processor
flags\t\t: fpu vme sse sse2 avx f16c fma avx2 sha_ni
"""
#: AMX listed without the tile state (a kernel that did not enable it): not usable.
AMX_WITHOUT_TILES = "model name\t: Some Xeon\nflags\t\t: avx2 avx512f amx_bf16\n"
GRAVITON3 = "processor\t: 0\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize(("text", "name", "amx", "avx512_bf16", "dtype"), [
    (SAPPHIRE_RAPIDS, "Intel(R) Xeon(R) Platinum 8480+", True, True, "bf16"),
    (ZEN4, "AMD EPYC 9654 96-Core Processor", False, True, "bf16"),
    (ZEN2, "AMD EPYC 7742 64-Core Processor", False, False, "fp32"),
    (AMX_WITHOUT_TILES, "Some Xeon", False, False, "fp32"),
    (GRAVITON3, "", False, False, "fp32"),  # ARM bf16: not measured, so not claimed
    ("", "", False, False, "fp32"),
])
def test_capability_from_cpuinfo(text, name, amx, avx512_bf16, dtype):
    features = parse_cpuinfo(text)
    assert features.model_name == name
    assert (features.amx_bf16, features.avx512_bf16) == (amx, avx512_bf16)
    assert default_cpu_dtype(features) == dtype


def test_the_first_processor_block_decides():
    features = parse_cpuinfo(SAPPHIRE_RAPIDS)  # processor 1's short list is not read
    assert "amx_tile" in features.flags
    assert features.bf16_units() == "AMX-BF16, AVX512-BF16"
    assert features.describe() == ("Intel(R) Xeon(R) Platinum 8480+ (AMX-BF16 yes, AMX-TILE yes, "
                                   "AVX512-BF16 yes, AVX512F yes, AVX2 yes)")
    assert "AVX512-BF16 no" in parse_cpuinfo(ZEN2).describe()


def test_this_machine_has_an_answer():
    features = read_cpu_features()
    assert isinstance(features, CpuFeatures)
    assert default_cpu_dtype() in ("bf16", "fp32")
    assert default_cpu_dtype() == ("bf16" if features.native_bf16 else "fp32")



@pytest.mark.parametrize(("cap", "amx", "avx512_bf16", "avx2", "dtype"), [
    ("AVX2", False, False, True, "fp32"),             # an AVX2-only run of a Sapphire Rapids Xeon
    ("avx512_core", False, False, True, "fp32"),      # AVX-512 without its bf16 instructions
    ("AVX512_CORE_BF16", False, True, True, "bf16"),  # Cooper Lake's level: AVX512-BF16, no AMX
    ("AVX512_CORE_AMX", True, True, True, "bf16"),
    ("ALL", True, True, True, "bf16"),                # oneDNN's "no cap"
    ("AVX3000", True, True, True, "bf16"),            # a level litmine does not know: no cap
    ("", True, True, True, "bf16"),
])
def test_a_onednn_isa_cap_hides_the_flags_above_it(cap, amx, avx512_bf16, avx2, dtype):
    features = cap_to_isa(parse_cpuinfo(SAPPHIRE_RAPIDS), cap)
    assert (features.amx_bf16, features.avx512_bf16, "avx2" in features.flags) == (amx, avx512_bf16, avx2)
    assert default_cpu_dtype(features) == dtype
    assert "avx512_vnni" in features.flags  # flags that decide nothing are kept
    assert ("oneDNN capped at" in features.describe()) == (cap.upper() not in ("ALL", "AVX3000", ""))


def test_this_process_reads_its_cap_from_onednn_max_cpu_isa(monkeypatch):
    from litmine.tasks import cpu_features

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    cpu_features.read_cpu_features.cache_clear()
    try:
        capped = read_cpu_features()
        assert not capped.native_bf16 and capped.isa_cap == "AVX2"
        choice = choose_dtype("auto", CPU, "NER")
        assert choice.name == "fp32" and "oneDNN capped at AVX2" in choice.reason
    finally:
        cpu_features.read_cpu_features.cache_clear()

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize(("asked", "device", "text", "expected"), [
    ("auto", CPU, SAPPHIRE_RAPIDS, torch.bfloat16),
    (None, CPU, ZEN4, torch.bfloat16),
    ("auto", CPU, ZEN2, torch.float32),
    ("AUTO", CUDA, SAPPHIRE_RAPIDS, torch.float16),  # CUDA keeps fp16, whatever the host CPU
    ("fp32", CPU, SAPPHIRE_RAPIDS, torch.float32),   # an explicit dtype wins over capability
    ("bf16", CPU, ZEN2, torch.bfloat16),
    ("int8", CPU, SAPPHIRE_RAPIDS, torch.qint8),
])
def test_auto_and_explicit_dtypes(asked, device, text, expected):
    choice = choose_dtype(asked, device, "NER", features=parse_cpuinfo(text))
    assert choice.dtype == expected
    assert choice.parameters() == {"dtype": choice.name, "dtype_reason": choice.reason}


def test_the_choice_says_why_and_how_to_override():
    amx = choose_dtype("auto", CPU, "NER", features=parse_cpuinfo(SAPPHIRE_RAPIDS))
    assert amx.message() == ("NER dtype bf16 (CPU has AMX-BF16, AVX512-BF16; --dtype fp32 to "
                             "override)")
    avx2 = choose_dtype("auto", CPU, "NER", features=parse_cpuinfo(ZEN2))
    assert avx2.message().startswith("NER dtype fp32 (CPU has no AMX or AVX512-BF16")
    assert choose_dtype("bf16", CPU, "NER").reason == "asked for"


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ModelError, match="unknown dtype 'fp8'; use auto, fp32"):
        choose_dtype("fp8", CPU, "NER")


def test_the_setting_reads_litmine_dtype(monkeypatch):
    monkeypatch.setenv("LITMINE_DTYPE", " BF16 ")
    assert Settings().dtype == "bf16"
    monkeypatch.delenv("LITMINE_DTYPE")
    assert Settings().dtype == "auto"
    monkeypatch.setenv("LITMINE_DTYPE", "fp8")
    with pytest.raises(ValidationError, match="dtype"):
        Settings()


def test_the_argument_wins_over_the_setting(monkeypatch, caplog):
    monkeypatch.setenv("LITMINE_DTYPE", "int8")
    get_settings(fresh=True)
    logger = logging.getLogger("test-dtype")
    try:
        with caplog.at_level(logging.INFO, logger="test-dtype"):
            assert choose_ner_dtype(None, "cpu", logger).name == "int8"
            assert choose_ner_dtype("fp32", "cpu", logger).name == "fp32"
    finally:
        monkeypatch.delenv("LITMINE_DTYPE")
        get_settings(fresh=True)
    assert caplog.messages == ["NER dtype int8 (asked for)", "NER dtype fp32 (asked for)"]


def test_the_cli_refuses_an_unknown_dtype(tmp_path):
    from litmine.cli import app

    result = CliRunner().invoke(app, ["mine", "--files", str(tmp_path / "x.xml"), "--dtype", "fp8"])
    assert result.exit_code == 2
    assert "fp8" in result.output


@pytest.mark.parametrize(("asked", "device", "text", "expected"), [
    ("auto", CPU, SAPPHIRE_RAPIDS, "bf16"),   # bf16 units: the relation encoders run bf16 too
    ("auto", CPU, ZEN4, "bf16"),
    ("auto", CPU, ZEN2, "int8"),              # AVX2 only: NER fp32, the relation heads int8
    ("auto", CUDA, ZEN2, "fp16"),             # CUDA: fp16, as NER
    ("fp32", CPU, SAPPHIRE_RAPIDS, "fp32"),   # --dtype overrides both
    ("fp32", CPU, ZEN2, "fp32"),
    ("bf16", CPU, ZEN2, "bf16"),
    ("int8", CPU, SAPPHIRE_RAPIDS, "int8"),
])
def test_the_relation_dtype_follows_the_ner_dtype(asked, device, text, expected):
    ner = choose_dtype(asked, device, "NER", features=parse_cpuinfo(text))
    choice = relation_dtype(ner)
    assert choice.name == expected and DTYPE_NAMES[choice.dtype] == expected
    assert choice.automatic == (asked == "auto")
    if ner.name == "int8":
        assert choice.message("relations").startswith("relations dtype int8 (as NER: the shared")
    elif expected == "int8":
        assert choice.message("relations") == (
            "relations dtype int8 (NER runs fp32: CPU has no AMX or AVX512-BF16, where bf16 would "
            "be slower; the shared relation heads' layers run int8 (dynamic quantisation: faster, "
            "F1 held; docs/performance.md); --dtype fp32 for fp32)")
    else:
        assert choice.message("relations") == f"relations dtype {expected} (as NER: {ner.reason})"


@pytest.mark.parametrize("asked, expected", [("int8", "fp32"), ("qint8", "fp32"), ("fp32", "fp32"),
                                             ("bf16", "bf16"), (None, None), ("auto", "auto")])
def test_relation_encoders_of_their_own_run_fp32_for_int8(asked, expected):
    from litmine.tasks.loading import encoder_dtype

    assert encoder_dtype(asked) == expected


def test_a_run_records_its_relation_dtype():
    from litmine.flows.pipeline import NO_RELATION_STEP, relation_step

    lexicon = str(DEFAULT_LEXICON)
    ner = choose_dtype("bf16", CPU, "NER")
    step = relation_step(True, lexicon, "", typed_relation_model="", device="cpu", ner_dtype=ner)
    assert step.parameters() == {"lexicon": lexicon, "dense_linker": None,
                                 "relation_model": None,
                                 "typed_relation_model": None, "relation_dtype": "bf16",
                                 "relation_dtype_reason": "as NER: asked for"}
    assert set(step.parameters()) == set(NO_RELATION_STEP)
    # Without a NER choice (library callers) the encoders run fp32; a disabled step is None.
    assert relation_step(True, lexicon, "", typed_relation_model="").dtype.name == "fp32"
    assert relation_step(False, ner_dtype=ner) is None
