"""`benchmarks/pubmed_projection.py`: all of PubMed projected from `make bench-gpu`'s JSON files."""

from __future__ import annotations

import json

import pytest

from benchmarks.pubmed_projection import (PUBMED_ABSTRACTS, PUBMED_SENTENCES, main,
                                          marginal_seconds_per_abstract, project)


def run(abstracts: int, wall: float) -> dict:
    return {"abstracts_in_file": abstracts + 10, "articles_with_abstract": abstracts,
            "flow": {"wall": wall}}


def test_the_marginal_rate_leaves_start_up_out():
    # 100 abstracts in 12 s, 1,000 in 30 s: 18 s for 900 more, whatever the order of the runs
    assert marginal_seconds_per_abstract([run(1000, 30.0), run(100, 12.0)]) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="two runs of different sizes"):
        marginal_seconds_per_abstract([run(100, 12.0), run(100, 13.0)])


def test_projection_lines_name_device_dtype_and_hours():
    e2e = {"device": "cuda", "machine": {"dtype": "fp16"}, "results": [run(100, 12.0), run(1000, 30.0)]}
    ner = {"fp16": {"device": "cuda", "figures": {"engine": {"sentences_per_s": 5000.0}}}}
    lines = project(e2e, ner)
    assert lines[0].startswith("end to end (cuda, fp16): 20.00 ms per abstract (50.0 abstracts/s)")
    assert lines[0].endswith(f"in {0.02 * PUBMED_ABSTRACTS / 3600:.1f} hours")
    assert lines[1] == (f"NER alone (cuda, fp16): 5,000 sentences/s -> {PUBMED_SENTENCES:,} sentences "
                        f"in {PUBMED_SENTENCES / 5000 / 3600:.1f} hours")


def test_the_command_reads_a_folder_and_says_what_is_missing(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    assert "run `make bench-gpu` first" in capsys.readouterr().err
    (tmp_path / "ner-bf16.json").write_text(json.dumps(
        {"device": "cpu", "figures": {"engine": {"sentences_per_s": 800.0}}}))
    assert main([str(tmp_path)]) == 0
    assert "NER alone (cpu, bf16): 800 sentences/s" in capsys.readouterr().out
    assert main([str(tmp_path / "absent")]) == 2
