"""Models by name (litmine/model_packages.py): a checkout's data/models first, then installed model
packages; a missing litmine model says where it was looked for and how to install it. What each
model is, from its card (tasks/model_info.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from litmine.errors import ModelNotInstalledError
from litmine.model_packages import (ENTRY_POINT_GROUP, find_entry, find_model, folder_entries,
                                    locate_model, model_name)
from litmine.tasks.model_info import card_path, describe_model

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

    assert settings.DEFAULT_NER_MODEL == MODELS / "litmine-ner-six-minilm-l6"
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


def test_a_models_name_is_stored_and_its_copy_loaded():
    from litmine.tasks.model_names import resolve_model_source

    assert resolve_model_source("litmine-ner-six-minilm-l6", "NER") == (
        "litmine-ner-six-minilm-l6", str(MODELS / "litmine-ner-six-minilm-l6"))
    with pytest.raises(ModelNotInstalledError, match="NER: model 'litmine-ner-none' is not installed"):
        resolve_model_source("litmine-ner-none", "NER")
