"""`litmine models` in a checkout: every model of data/models listed with its card's scores, its
path for scripts, its wheel; a missing model named by `--model` fails in one line that says what
was looked for and how to install it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from litmine.model_packages import folder_entries, model_name

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "data" / "models"
SAMPLE = ROOT / "data" / "sample" / "pubmedsample18n0001.xml.gz"


def test_models_lists_every_shipped_model_with_its_scores(run_litmine):
    code, out, _ = run_litmine("models", "--format", "json")
    assert code == 0
    listed = {row["name"]: row for row in json.loads(out)}
    assert set(listed) == {model_name(p) for p in folder_entries(MODELS)}
    for row in listed.values():
        assert row["source"] == "checkout" and Path(row["path"]).parent == MODELS
        assert row["scores"] and row["types"] and row["licence"] and row["size"] > 0
    six = listed["litmine-ner-six-minilm-l6"]
    assert six["kind"] == "NER" and "Gene" in six["types"] and six["licence"] == "apache-2.0"

    code, out, _ = run_litmine("models")
    assert code == 0
    for name in listed:
        assert name in out  # the table never cuts a name
    assert "mention F1" in out and "checkout" in out


def test_models_path_prints_a_path_for_scripts(run_litmine):
    code, out, _ = run_litmine("models", "path", "litmine-lexicon-mesh")
    assert (code, out) == (0, f"{MODELS / 'litmine-lexicon-mesh.tsv.gz'}\n")


def test_a_missing_model_fails_in_one_line_with_the_way_to_install_it(run_litmine):
    code, out, err = run_litmine("models", "path", "litmine-ner-none")
    message = " ".join(err.split())
    assert code == 1 and out == ""
    assert "error: models path: model 'litmine-ner-none' is not installed: looked for it in" in message
    assert "pip install litmine-ner-none" in message and "Traceback" not in err

    code, _, err = run_litmine("mine", "--files", str(SAMPLE), "--model", "litmine-ner-none",
                               "--db", "/nonexistent/never-written.duckdb")
    message = " ".join(err.split())
    assert code == 1 and "error: mine: NER model 'litmine-ner-none' is not installed" in message
    assert "pip install litmine-ner-none" in message


def test_models_package_writes_a_wheel_per_model(run_litmine, tmp_path):
    code, out, _ = run_litmine("models", "package", "litmine-ner-bc5cdr-ensemble",
                               str(MODELS / "litmine-lexicon-mesh.tsv.gz"), "--out", str(tmp_path))
    assert code == 0
    wheels = sorted(p.name for p in tmp_path.glob("*.whl"))
    assert wheels == ["litmine_lexicon_mesh-0.1.0-py3-none-any.whl",
                      "litmine_ner_bc5cdr_ensemble-0.1.0-py3-none-any.whl"]
    assert all(name in out for name in wheels)
    with zipfile.ZipFile(tmp_path / wheels[0]) as wheel:
        assert "litmine_models/litmine-lexicon-mesh.tsv.gz" in wheel.namelist()
