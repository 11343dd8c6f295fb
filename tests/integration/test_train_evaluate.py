"""Train a tiny model with the `train` flow, load it, and score it with the `evaluate` flow."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from litmine.tasks.ner.markers import ALL as ALL_KEY
from litmine.tasks.sources.pubtator import read_pubtator, write_pubtator


@pytest.fixture(scope="module")
def corpora(fixtures_dir):
    return fixtures_dir / "corpora"


@pytest.fixture(scope="module")
def trained(prefect_harness, tiny_ner_model, corpora, tmp_path_factory):
    """A 2-epoch run of the `train` flow from the tiny random BERT on 20 BC5CDR documents."""
    from litmine.flows.train import train

    out = tmp_path_factory.mktemp("train") / "model"
    record = train(
        train_files=[str(corpora / "bc5cdr_train_sample.pubtator"),
                     str(corpora / "biored_train_sample.pubtator")],
        dev_files=[str(corpora / "bc5cdr_dev_sample.pubtator")],
        out_dir=str(out), base_model=str(tiny_ner_model), types=["Chemical", "Disease"],
        epochs=2, lr=1e-3, batch_size=8, max_length=128, seed=3, patience=2, device="cpu",
        fp16_weights=True, command_line="litmine train (integration test)")
    return out, record


def test_train_flow_writes_a_complete_model_dir(trained):
    out, record = trained
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md",
            "training.json"} <= names
    assert not out.with_name(out.name + ".training").exists()  # staging cleaned up
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "O", "1": "B-Chemical", "2": "I-Chemical",
                                  "3": "B-Disease", "4": "I-Disease"}
    assert [e["epoch"] for e in record["epochs"]] == [1, 2]
    # The loss must fall: the loop really trains (lr 1e-3 on a tiny random model).
    assert record["epochs"][1]["train_loss"] < record["epochs"][0]["train_loss"]
    files = record["data"]["train_files"]
    assert files[1]["duplicates"] == 1 and files[1]["held_out"] == 1  # BioRED copies
    assert record["fp16"]["drop_points"] <= 0.2 and record["fp16"]["kept"] is True
    card = (out / "README.md").read_text()
    assert "litmine train (integration test)" in card
    assert files[0]["sha256"][:16] in card
    assert "| epoch | train loss |" in card and "Apache-2.0" not in card  # tiny model: no MiniLM
    assert "public domain" in card
    # --precision auto: bf16 autocast where this CPU has bf16 units, full precision elsewhere
    from litmine.tasks.cpu_features import default_cpu_dtype

    autocast = "bfloat16" if default_cpu_dtype() == "bf16" else "none"
    assert record["params"]["precision"] == "auto" and record["params"]["autocast"] == autocast
    assert f"autocast {autocast}." in " ".join(card.split())


def test_train_flow_creates_the_dev_scores_artifact(trained):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["ner-training-dev-scores"])))
    assert artifacts and "| epoch | train loss |" in artifacts[0].data


def test_trained_model_loads_with_load_tagger(trained):
    from litmine.tasks.ner.engine import load_tagger

    out, _ = trained
    tagger = load_tagger(str(out), device="cpu")
    assert set(tagger.types) == {"Chemical", "Disease"}


def test_evaluate_flow_scores_model_and_exported_predictions_alike(trained, corpora, tmp_path):
    from litmine.flows.evaluate import evaluate
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.ner.evaluation import predict_documents

    out, _ = trained
    gold = [str(corpora / "bc5cdr_dev_sample.pubtator")]
    json_out, errors_out = tmp_path / "scores.json", tmp_path / "errors.txt"
    report = evaluate(gold=gold, model=str(out), json_out=str(json_out),
                      errors_out=str(errors_out), device="cpu", show=False)
    docs, _ = read_pubtator(gold[0])
    n_gold = sum(len(d.mentions) for d in docs)
    assert report["n_documents"] == 6 and report["types"] == ["Chemical", "Disease"]
    assert report["micro"]["n_gold"] == n_gold
    assert json.loads(json_out.read_text())["micro"] == report["micro"]
    listing = errors_out.read_text()
    assert listing.count("FN ") == report["micro"]["fn"]

    # The mine -> export -> evaluate path: the same mentions written as PubTator score the same.
    mentions = predict_documents(load_tagger(str(out), device="cpu"), docs)
    exported = tmp_path / "exported.pubtator"
    by_doc = {d.pmid: [m for m in mentions if m.pmid == d.pmid] for d in docs}
    write_pubtator([(d.to_article(), by_doc[d.pmid]) for d in docs], exported)
    again = evaluate(gold=gold, predicted=[str(exported)], show=False)
    assert again["micro"] == report["micro"]
    assert report["micro"]["n_predicted"] == len(mentions)


def test_evaluate_flow_gold_against_itself_is_perfect(prefect_harness, corpora):
    from litmine.flows.evaluate import evaluate

    gold = [str(corpora / "bc5cdr_dev_sample.pubtator")]
    report = evaluate(gold=gold, predicted=gold, show=False)
    assert report["micro"]["f1"] == 1.0 and report["micro"]["fp"] == 0
    assert report["micro"]["tp"] == report["micro"]["n_gold"] == 76


def test_document_unit_training_makes_a_document_tagger(prefect_harness, tiny_ner_model,
                                                        corpora, tmp_path):
    """`litmine train --unit document` (the CLI), then the model tags whole documents."""
    from typer.testing import CliRunner

    from litmine.cli import app
    from litmine.flows.evaluate import evaluate
    from litmine.tasks.ner.engine import load_tagger

    out = tmp_path / "doc-model"
    result = CliRunner().invoke(app, [
        "train", "--train", str(corpora / "bc5cdr_train_sample.pubtator"),
        "--dev", str(corpora / "bc5cdr_dev_sample.pubtator"), "--out", str(out),
        "--base-model", str(tiny_ner_model), "--epochs", "1", "--lr", "1e-3", "--batch-size", "2",
        "--max-length", "128", "--seed", "3", "--device", "cpu", "--unit", "document"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["litmine_unit"] == "document"
    record = json.loads((out / "training.json").read_text())
    assert record["params"]["unit"] == "document"
    docs, _ = read_pubtator(corpora / "bc5cdr_train_sample.pubtator")
    # one text per document (cut into windows only past the tiny model's 128 positions)
    assert record["data"]["sentences"]["sentences"] == len(docs)
    assert load_tagger(str(out), device="cpu").unit == "document"
    report = evaluate(gold=[str(corpora / "bc5cdr_dev_sample.pubtator")], model=str(out),
                      device="cpu", show=False)
    assert report["n_documents"] == 6


def test_six_types_from_a_corpus_list_through_the_cli(prefect_harness, tiny_ner_model, corpora,
                                                     tmp_path):
    """`litmine train --corpus-list`: corpora that annotate different types, one six-type model,
    PMIDs of --exclude-pmids never trained on, the card saying what each corpus gave."""
    from typer.testing import CliRunner

    from litmine.cli import app
    from litmine.tasks.ner.engine import load_tagger

    out = tmp_path / "six"
    holdout = tmp_path / "HOLDOUT_PMIDS.txt"
    holdout.write_text("22104738\n21241331\n")  # one tmVar3 and one S800 document
    result = CliRunner().invoke(app, [
        "train", "--corpus-list", str(corpora / "six-types.tsv"),
        "--dev", str(corpora / "bc5cdr_dev_sample.pubtator"), "--exclude-pmids", str(holdout),
        "--out", str(out), "--base-model", str(tiny_ner_model), "--epochs", "2", "--lr", "1e-3",
        "--batch-size", "8", "--max-length", "128", "--seed", "3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    tagger = load_tagger(str(out), device="cpu")
    assert set(tagger.types) == {"Gene", "Chemical", "Disease", "Species", "Variant", "CellLine"}
    record = json.loads((out / "training.json").read_text())
    files = {f["path"].rsplit("/", 1)[-1]: f for f in record["data"]["train_files"]}
    assert files["tmvar3_train_sample.pubtator"]["held_out"] == 1
    assert files["species800_train_sample.pubtator"]["held_out"] == 1
    assert files["tmvar3_train_sample.pubtator"]["annotated"] == ["Variant"]
    assert record["epochs"][1]["train_loss"] < record["epochs"][0]["train_loss"]
    card = (out / "README.md").read_text()
    assert "| annotates |" in card and "| Variant |" in card


def test_task_markers_train_and_tag_with_the_all_marker(prefect_harness, tiny_ner_model,
                                                        corpora, tmp_path):
    """`litmine train --markers`: one marker per corpus task in the config; the tagger puts the
    ALL marker after [CLS]; training on from that model keeps its markers' tokens."""
    from typer.testing import CliRunner

    from litmine.cli import app
    from litmine.tasks.ner.engine import load_tagger

    def train(base, out, corpus_list):
        return CliRunner().invoke(app, [
            "train", "--corpus-list", str(corpus_list), "--dev",
            str(corpora / "bc5cdr_dev_sample.pubtator"), "--out", str(out), "--base-model",
            str(base), "--epochs", "1", "--lr", "1e-3", "--batch-size", "8", "--max-length",
            "128", "--seed", "3", "--device", "cpu", "--markers"])

    first = tmp_path / "marked"
    result = train(tiny_ner_model, first, corpora / "six-types.tsv")
    assert result.exit_code == 0, result.output
    markers = json.loads((first / "config.json").read_text())["litmine_markers"]
    assert set(markers) == {"ALL", "Chemical,Disease", "Disease", "Gene", "Variant", "Species",
                            "CellLine"}
    tagger = load_tagger(str(first), device="cpu")
    all_id = tagger._tokenizer.token_to_id(markers["ALL"])
    assert list(tagger._prefix) == [tagger._tokenizer.token_to_id("[CLS]"), all_id]
    tagger.tag_texts(["Aspirin and BRCA1 in breast cancer."])  # runs with the marker
    check_marker_specs(first, tagger, markers, tiny_ner_model, corpora, tmp_path)
    # A second run from the marked model on two of the corpora: the old tokens stay.
    two = tmp_path / "two.tsv"
    lines = (corpora / "six-types.tsv").read_text().splitlines()[1:3]  # BioRED, BC5CDR
    two.write_text("".join(f"{corpora}/{line}\n" for line in lines))
    result = train(first, tmp_path / "again", two)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "again" / "config.json").read_text())["litmine_markers"] == markers
    # Without --markers from a marked model: refused (the tagger would add a marker anyway).
    result = CliRunner().invoke(app, [
        "train", "--corpus-list", str(two), "--dev", str(corpora / "bc5cdr_dev_sample.pubtator"),
        "--out", str(tmp_path / "unmarked"), "--base-model", str(first), "--device", "cpu"])
    assert result.exit_code != 0
    assert "was trained with task markers" in str(result.exception) + result.output
    assert not (tmp_path / "unmarked").exists()


def check_marker_specs(first, tagger, markers, unmarked, corpora, tmp_path):
    """MODEL#KEY: the same weights under another marker and another fingerprint; an ensemble
    gives the key to its marked members; a key a model lacks fails before anything runs."""
    import numpy as np
    from typer.testing import CliRunner

    from litmine.cli import app
    from litmine.tasks.ner.engine import load_tagger
    from litmine.tasks.ner.ensemble import write_ensemble

    def fingerprint(t):
        return t.model_id.rsplit("@", 1)[-1]

    vocab = tagger._tokenizer
    cd = load_tagger(f"{first}#disease,chemical", device="cpu")
    assert cd.model_name == f"{first}#Chemical,Disease" and cd.marker == "Chemical,Disease"
    assert list(cd._prefix) == [vocab.token_to_id("[CLS]"),
                                vocab.token_to_id(markers["Chemical,Disease"])]
    assert cd._model is tagger._model  # the weights are loaded once
    assert fingerprint(cd) != fingerprint(tagger)
    assert fingerprint(load_tagger(f"{first}#ALL", device="cpu")) == fingerprint(tagger)
    text = ["Aspirin and BRCA1 in breast cancer."]
    assert not np.allclose(cd.predict_tokens(text)[0].probs, tagger.predict_tokens(text)[0].probs)
    # An ensemble: the marked member takes the key, the unmarked one tags as it always does.
    plain = tmp_path / "plain-model"  # the same labels, no markers
    shutil.copytree(first, plain)
    config = json.loads((plain / "config.json").read_text())
    del config["litmine_markers"]
    (plain / "config.json").write_text(json.dumps(config))
    ensemble = write_ensemble(tmp_path / "ensemble", [first, plain])
    members = load_tagger(f"{ensemble}#Gene", device="cpu").members
    assert [m.marker for m in members] == ["Gene", None]
    assert load_tagger(str(ensemble), device="cpu").members[0].marker == ALL_KEY
    with pytest.raises(Exception, match="no member of the ensemble takes the task marker"):
        load_tagger(f"{write_ensemble(tmp_path / 'plain', [plain, plain])}#Gene", device="cpu")
    for spec, message in [(f"{unmarked}#Gene", "trained without task markers"),
                          (f"{first}#Chemical,Gene", "no task marker 'Chemical,Gene'")]:
        result = CliRunner().invoke(app, ["mine", "--files", str(corpora / "biored_train_sample"
                                                                ".pubtator"),
                                          "--db", str(tmp_path / "m.duckdb"), "--model", spec])
        assert result.exit_code != 0 and message in str(result.exception) + result.output
        assert not (tmp_path / "m.duckdb").exists()


def test_task_markers_need_a_corpus_of_every_type(prefect_harness, tiny_ner_model, corpora,
                                                  tmp_path):
    from typer.testing import CliRunner

    from litmine.cli import app

    genes = tmp_path / "genes.tsv"
    genes.write_text(f"{corpora / 'gnormplus_train_sample.pubtator'}\tGene\tGene:Gene\n")
    result = CliRunner().invoke(app, [
        "train", "--corpus-list", str(genes), "--dev", str(corpora / "bc5cdr_dev_sample.pubtator"),
        "--out", str(tmp_path / "m"), "--base-model", str(tiny_ner_model), "--device", "cpu",
        "--markers"])
    assert result.exit_code != 0
    assert "no corpus annotates every type" in str(result.exception) + result.output


def test_corpus_list_is_for_ner_only(corpora):
    from typer.testing import CliRunner

    from litmine.cli import app

    result = CliRunner().invoke(app, ["train", "--task", "relations", "--corpus-list",
                                      str(corpora / "six-types.tsv"), "--dev", "x"])
    assert "--corpus-list is for --task ner" in str(result.exception)


def test_training_precision_must_be_known(tmp_path):
    from litmine.errors import LitmineError
    from litmine.tasks.training.ner import train_ner

    with pytest.raises(LitmineError, match=r"precision must be one of \('auto', 'fp32'\)"):
        train_ner(["x.pubtator"], ["y.pubtator"], tmp_path / "m", base_model="none",
                  precision="fp16")


def test_case_types_train_and_tag(prefect_harness, tiny_ner_model, corpora, tmp_path):
    """`litmine train --case-types`: the model's table grows to the case classes and its config
    says so; the tagger then reads case; training on from it keeps reading case; it cannot
    start under frozen embeddings, nor teach a student that does not read case."""
    from typer.testing import CliRunner

    from litmine.cli import app
    from litmine.tasks.ner.casing import CASE_TYPES
    from litmine.tasks.ner.engine import load_tagger

    def train(base, out, *extra):
        return CliRunner().invoke(app, [
            "train", "--train", str(corpora / "bc5cdr_train_sample.pubtator"), "--dev",
            str(corpora / "bc5cdr_dev_sample.pubtator"), "--out", str(out), "--base-model",
            str(base), "--epochs", "1", "--lr", "1e-3", "--batch-size", "8", "--max-length",
            "128", "--seed", "3", "--device", "cpu", *extra])

    result = train(tiny_ner_model, tmp_path / "cased", "--case-types")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "cased" / "config.json").read_text())
    assert config["litmine_case_types"] is True and config["type_vocab_size"] == CASE_TYPES
    record = json.loads((tmp_path / "cased" / "training.json").read_text())
    assert record["params"]["case_types"] is True
    tagger = load_tagger(str(tmp_path / "cased"), device="cpu")
    assert tagger.case_types
    upper, lower = tagger.predict_tokens(["Aspirin and PAH.", "aspirin and pah."])
    assert not np.allclose(upper.probs, lower.probs)
    # On from the cased model, without the flag: it still reads case, and may freeze layers.
    result = train(tmp_path / "cased", tmp_path / "again", "--freeze-layers", "1")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "again" / "config.json").read_text())["litmine_case_types"]
    assert json.loads((tmp_path / "again" / "training.json").read_text())["params"]["case_types"]
    for extra, message in [(("--case-types", "--freeze-layers", "1"),
                            "--case-types adds token type embeddings"),
                           (("--teacher", str(tmp_path / "cased")),
                            "reads each word's case .* train the student with --case-types")]:
        result = train(tiny_ner_model, tmp_path / "refused", *extra)
        assert result.exit_code != 0
        assert re.search(message, str(result.exception) + result.output)
        assert not (tmp_path / "refused").exists()
    result = CliRunner().invoke(app, ["train", "--task", "relations", "--train", "x",
                                      "--dev", "y", "--case-types"])
    assert "--case-types is for --task ner" in str(result.exception) + result.output
