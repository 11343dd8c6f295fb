"""Models by name (litmine/model_packages.py): a checkout's data/models first, then installed model
packages; a missing litmine model says where it was looked for and how to install it. What each
model is, from its card (tasks/model_info.py); models as wheels (tasks/model_wheels.py): real
folders, and real wheels that pip installs into a folder put on sys.path."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from litmine.errors import ModelNotInstalledError
from litmine.model_packages import (ENTRY_POINT_GROUP, find_entry, find_model, folder_entries,
                                    locate_model, model_name, packaged_models, shipped_models)
from litmine.tasks.model_info import card_path, describe_model
from litmine.tasks.model_wheels import build_model_wheel, wheel_name

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "data" / "models"
SHIPPED = folder_entries(MODELS)


def test_a_models_folder_holds_directories_and_model_files_not_cards_or_staging(tmp_path):
    (tmp_path / "litmine-a").mkdir()
    (tmp_path / "litmine-b.tsv.gz").write_bytes(b"")
    (tmp_path / "litmine-b.md").write_text("the card of litmine-b")
    (tmp_path / "litmine-c.training").mkdir()  # a training run's staging folder
    (tmp_path / ".hidden").write_text("")
    assert [p.name for p in folder_entries(tmp_path)] == ["litmine-a", "litmine-b.tsv.gz"]
    assert find_entry(tmp_path, "litmine-a") == tmp_path / "litmine-a"
    assert find_entry(tmp_path, "litmine-b") == tmp_path / "litmine-b.tsv.gz"
    assert find_entry(tmp_path, "litmine-c") is None
    assert model_name("litmine-b.tsv.gz") == "litmine-b"


@pytest.mark.parametrize("value", ["bert-base-uncased", "org/model", "", "./litmine-x", "/no/such"])
def test_paths_and_hub_ids_pass_through(value):
    assert locate_model(value, "test") == value


def test_a_name_finds_the_checkouts_copy():
    lexicon = str(MODELS / "litmine-lexicon-mesh.tsv.gz")
    assert locate_model("litmine-lexicon-mesh", "test") == lexicon
    assert locate_model("litmine-lexicon-mesh.tsv.gz", "test") == lexicon
    assert locate_model(str(MODELS / "litmine-cid-bc5cdr"), "test") == str(MODELS / "litmine-cid-bc5cdr")
    assert find_model("litmine-ner-six-minilm-l6").source == "checkout"


def test_a_missing_litmine_model_says_where_it_looked_and_how_to_install_it():
    with pytest.raises(ModelNotInstalledError) as caught:
        locate_model("litmine-ner-none", "mine", "NER model", "run with --no-relations")
    message = str(caught.value)
    assert message.startswith("mine: NER model 'litmine-ner-none' is not installed")
    assert f"{MODELS}/" in message and repr(ENTRY_POINT_GROUP) in message
    assert "`pip install litmine-ner-none`" in message and "dist/litmine_ner_none-*.whl" in message
    assert message.endswith("or run with --no-relations. `litmine models` lists the models found.")


def test_a_checkouts_defaults_are_its_paths_and_training_writes_into_it():
    from litmine import settings

    assert settings.DEFAULT_NER_MODEL == MODELS / "litmine-ner-six-v2-minilm-l6"
    assert settings.DEFAULT_LEXICON == MODELS / "litmine-lexicon-mesh.tsv.gz"
    assert settings.DEFAULT_RELATION_MODEL == MODELS / "litmine-cid-bc5cdr"
    # present or not (the BioRED model lands later), training writes into the checkout
    assert settings.TYPED_RELATION_MODEL_OUT == MODELS / "litmine-relations-biored-minilm-l6"


@pytest.mark.parametrize("entry", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_model_lists_kind_types_licence_and_the_scores_of_its_card(entry):
    info = describe_model(entry)
    assert info.kind and info.types and info.licence != "unknown" and info.size > 0
    assert info.scores, f"{entry.name}: no scores in its card or training files"
    card = card_path(entry).read_text(encoding="utf-8")
    for score in info.scores:  # every figure listed is one the card shows
        assert f"{score.value:.2f}" in card, (entry.name, str(score))


def test_an_ensemble_needs_its_members():
    info = describe_model(MODELS / "litmine-ner-bc5cdr-ensemble")
    assert info.needs == ("litmine-ner-bc5cdr-minilm-l6", "litmine-ner-bc5cdr-doc-minilm-l6")
    assert info.types == ("Chemical", "Disease")


def tiny_model(folder: Path) -> Path:
    """A model directory with what discovery and the listing read (no weights)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(
        {"architectures": ["BertForTokenClassification"],
         "id2label": {"0": "O", "1": "B-Gene", "2": "I-Gene"}}))
    (folder / "training.json").write_text(json.dumps(
        {"params": {"dev": ["corpora/tiny/dev.txt"]}, "final_dev": {"micro": {"f1": 0.5}}}))
    (folder / "README.md").write_text("---\nlicense: mit\n---\n\n# tiny\n\n| micro | 50.00 |\n")
    return folder


def pip_install(wheels: list[Path], target: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(target), *map(str, wheels)], check=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A folder that pip installed two model wheels into: a tiny model and the lexicon."""
    root = tmp_path_factory.mktemp("model-wheels")
    wheels = [build_model_wheel(tiny_model(root / "src" / "litmine-tiny-test"), root / "dist", "1.2.3"),
              build_model_wheel(MODELS / "litmine-lexicon-mesh.tsv.gz", root / "dist", "1.2.3")]
    pip_install(wheels, root / "site")
    return root


def test_an_installed_model_wheel_is_found_by_name(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site / "site"))
    found = find_model("litmine-tiny-test")
    installed = site / "site" / "litmine_models" / "litmine-tiny-test"
    assert (found.source, found.distribution, found.version, found.path) == (
        "package", "litmine-tiny-test", "1.2.3", installed)
    assert locate_model("litmine-tiny-test", "test") == str(installed)
    for name in ("config.json", "training.json", "README.md"):
        assert (installed / name).read_bytes() == (site / "src" / "litmine-tiny-test" / name).read_bytes()
    assert [str(s) for s in describe_model(installed).scores] == ["mention F1 50.00 (tiny dev)"]


def test_a_checkouts_copy_hides_an_installed_package(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site / "site"))
    lexicon = packaged_models()["litmine-lexicon-mesh"]
    assert lexicon.path == site / "site" / "litmine_models" / "litmine-lexicon-mesh.tsv.gz"
    assert (lexicon.path.with_name("litmine-lexicon-mesh.md")).is_file()  # its card came along
    assert find_model("litmine-lexicon-mesh").source == "checkout"
    assert [m.source for m in shipped_models() if m.name == "litmine-lexicon-mesh"] == ["checkout"]


def test_a_model_wheel_is_reproducible_and_its_record_holds(tmp_path):
    ensemble = MODELS / "litmine-ner-bc5cdr-ensemble"
    first = build_model_wheel(ensemble, tmp_path / "a", "0.9.0")
    second = build_model_wheel(ensemble, tmp_path / "b", "0.9.0")
    assert first.name == wheel_name("litmine-ner-bc5cdr-ensemble", "0.9.0") \
        == "litmine_ner_bc5cdr_ensemble-0.9.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as wheel:
        info = "litmine_ner_bc5cdr_ensemble-0.9.0.dist-info"
        record = wheel.read(f"{info}/RECORD").decode().splitlines()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("RECORD"):
                continue
            data = wheel.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert (digest, int(size)) == (f"sha256={expected}", len(data)), path
        assert sorted(line.split(",")[0] for line in record) == sorted(wheel.namelist())
        metadata = wheel.read(f"{info}/METADATA").decode()
        assert wheel.read(f"{info}/entry_points.txt").decode() == (
            "[litmine.models]\nlitmine-ner-bc5cdr-ensemble = litmine_models\n")
    assert "Name: litmine-ner-bc5cdr-ensemble\nVersion: 0.9.0\n" in metadata
    assert "Requires-Dist: litmine-ner-bc5cdr-minilm-l6==0.9.0" in metadata
    assert "Requires-Dist: litmine-ner-bc5cdr-doc-minilm-l6==0.9.0" in metadata
    assert "License: apache-2.0" in metadata


def test_a_models_name_is_stored_and_its_copy_loaded():
    from litmine.tasks.model_names import resolve_model_source

    assert resolve_model_source("litmine-ner-six-minilm-l6", "NER") == (
        "litmine-ner-six-minilm-l6", str(MODELS / "litmine-ner-six-minilm-l6"))
    with pytest.raises(ModelNotInstalledError, match="NER: model 'litmine-ner-none' is not installed"):
        resolve_model_source("litmine-ner-none", "NER")
