"""`litmine train --task mlm`: task-adaptive pretraining on the corpora's text, whose output a
NER run then fine-tunes (`--base-model`)."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.fixture(scope="module")
def corpora(fixtures_dir):
    return fixtures_dir / "corpora"


def test_pretraining_through_the_cli_gives_a_base_for_ner(prefect_harness, tiny_ner_model,
                                                          corpora, tmp_path, run_litmine):
    from transformers import AutoModelForMaskedLM, AutoModelForTokenClassification

    holdout = tmp_path / "HOLDOUT_PMIDS.txt"
    holdout.write_text("22104738\n")  # a tmVar3 document
    out = tmp_path / "tapt"
    code, stdout, stderr = run_litmine(
        "train", "--task", "mlm", "--corpus-list", str(corpora / "six-types.tsv"),
        "--dev", str(corpora / "bc5cdr_dev_sample.pubtator"), "--exclude-pmids", str(holdout),
        "--base-model", str(tiny_ner_model), "--out", str(out), "--epochs", "2",
        "--lr", "1e-3", "--batch-size", "8", "--seed", "3", "--device", "cpu")
    assert code == 0, stderr
    assert f"masked language model saved to {out}" in stdout
    record = json.loads((out / "training.json").read_text())
    files = {f["path"].rsplit("/", 1)[-1]: f for f in record["data"]["train_files"]}
    assert files["tmvar3_train_sample.pubtator"]["held_out"] == 1
    # a corpus list's max_docs samples labelled sentences, not text: every BioID caption counts
    assert files["bioid_train_sample.pubtator"]["documents"] == 6
    assert record["data"]["documents"] == sum(f["documents"] for f in files.values())
    losses = [e["dev_loss"] for e in record["epochs"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert "| `" in (out / "README.md").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["BertForMaskedLM"]
    # `train --base-model` reads the pretrained encoder, not the one it started from
    mlm = AutoModelForMaskedLM.from_pretrained(out)
    tagger = AutoModelForTokenClassification.from_pretrained(out, num_labels=3)
    before = AutoModelForTokenClassification.from_pretrained(tiny_ner_model)
    weight = "encoder.layer.1.output.dense.weight"
    assert torch.equal(tagger.bert.state_dict()[weight], mlm.bert.state_dict()[weight])
    assert not torch.equal(tagger.bert.state_dict()[weight], before.bert.state_dict()[weight])


@pytest.mark.parametrize(("extra", "message"), [
    (["--teacher", "x"], "--teacher is for --task ner"),
    (["--types", "Gene"], "--types is not an option of masked-LM pretraining"),
    (["--fp16-weights"], "--fp16-weights is not an option"),
])
def test_options_pretraining_does_not_take_are_refused(corpora, tmp_path, extra, message):
    from typer.testing import CliRunner

    from litmine.cli import app

    result = CliRunner().invoke(app, ["train", "--task", "mlm", "--corpus-list",
                                      str(corpora / "six-types.tsv"), "--dev", "x",
                                      "--out", str(tmp_path / "m"), *extra])
    assert message in str(result.exception)


def test_pretraining_needs_an_out_folder(corpora):
    from typer.testing import CliRunner

    from litmine.cli import app

    result = CliRunner().invoke(app, ["train", "--task", "mlm", "--train",
                                      str(corpora / "bc5cdr_train_sample.pubtator"), "--dev",
                                      str(corpora / "bc5cdr_dev_sample.pubtator")])
    assert "train --task mlm: give --out" in str(result.exception)
