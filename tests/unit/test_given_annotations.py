"""The input's own annotations as a run's mentions (`mine --entities given`): each in its
sentence, IDs as given, types litmine does not store left out and counted; curated IDs outrank
the lexicon, and they choose the typed model's threshold for given IDs."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from litmine.tasks.records import Article, Mention, Sentence
from litmine.tasks.relations.relate import given_links, typed_threshold
from litmine.tasks.sources.annotations import given_id, given_mentions, ids_given
from litmine.tasks.sources.pubtator import PubTatorDocument, GoldMention

TITLE = "Aspirin and asthma."
ABSTRACT = "Aspirin induced asthma in BRCA1 carriers. Mice were spared."


def _article(*mentions: GoldMention) -> Article:
    return PubTatorDocument("1", TITLE, ABSTRACT, mentions=mentions).to_article("in.pubtator")


def _sentences(article: Article) -> list[Sentence]:
    text = article.text
    bounds = [(0, len(TITLE)), (len(TITLE) + 1, text.index("Mice") - 1),
              (text.index("Mice"), len(text))]
    return [Sentence("1", k, a, b, text[a:b]) for k, (a, b) in enumerate(bounds)]


def test_annotations_become_mentions_in_their_sentences_with_the_ids_given():
    text = TITLE + " " + ABSTRACT
    at = text.index("BRCA1")
    mice = text.index("Mice")
    article = _article(GoldMention(0, 7, "Aspirin", "ChemicalEntity", "D001241"),
                       GoldMention(at, at + 5, "BRCA1", "GeneOrGeneProduct", "-1"),
                       GoldMention(mice, mice + 4, "Mice", "OrganismTaxon", "10090"),
                       GoldMention(12, 18, "asthma", "Anatomy-ish", "X"),
                       GoldMention(mice + 5, mice + 9, "were", "ProteinMutation",
                                   "tmVar:p|SUB|W|1|E;RS#:1"))
    counts = Counter()
    mentions = given_mentions([article], _sentences(article), counts)
    assert [(m.text, m.type, m.concept_id, m.sentence_index, m.link_status) for m in mentions] == [
        ("Aspirin", "Chemical", "D001241", 0, "given"),
        ("BRCA1", "Gene", "", 1, ""),  # "-1": no ID
        ("Mice", "Species", "10090", 2, "given"),
        ("were", "Variant", "rs1", 2, "given")]  # tmVar's classes are Variants
    assert counts == Counter({"given_entities": 4, "given_skipped_type": 1})
    assert ids_given(mentions) and not ids_given(mentions[1:2])


def test_ids_are_read_into_litmines_form():
    assert given_id("Chemical", "MESH:D001241") == "D001241"
    assert given_id("Gene", "3078;3080") == "3078|3080"
    assert given_id("Gene", "40224(Tax:7227)") == "40224"
    assert given_id("Disease", "OMIM:261600") == "OMIM:261600"  # not MeSH: as written
    assert given_id("Variant", "p|SUB|V|600|E") == "p|SUB|V|600|E"
    pubtator3 = "tmVar:p|SUB|V|600|E;HGVS:p.V600E;VariantGroup:0;CorrespondingGene:673"
    assert given_id("Variant", pubtator3) == "p|SUB|V|600|E"
    assert given_id("Variant", pubtator3 + ";RS#:113488022") == "rs113488022"
    assert given_id("Variant", "rs1801133") == "rs1801133"
    assert given_id("Disease", "-") == given_id("Gene", "-1") == given_id("Species", " ") == ""


def test_a_document_with_ids_keeps_them_and_one_without_keeps_the_lexicons():
    given = [Mention("1", 0, 7, "Aspirin", "Chemical", concept_id="D001241", link_status="given"),
             Mention("1", 12, 18, "asthma", "Disease")]
    kept, kept_links = given_links(given)
    assert [(m.concept_id, m.link_status) for m in kept] == [("D001241", "given"),
                                                            ("", "given-none")]
    assert [link.status for link in kept_links] == ["given", "given-none"]
    bare = [Mention("1", 0, 7, "Aspirin", "Chemical"), Mention("1", 12, 18, "asthma", "Disease")]
    assert ids_given(given) and not ids_given(bare)  # a bare document is linked by the lexicon


def test_given_ids_choose_the_models_threshold_for_them():
    model = SimpleNamespace(threshold=0.3, given_threshold=0.36)
    curated = [Mention("1", 0, 7, "Aspirin", "Chemical", concept_id="D001241",
                       link_status="given")]
    linked = [Mention("1", 0, 7, "Aspirin", "Chemical", concept_id="D001241",
                      link_status="exact")]
    assert typed_threshold(model, curated, given=True) == 0.36
    assert typed_threshold(model, linked, given=True) is None  # the model's own
    assert typed_threshold(model, curated, given=False) is None


def test_the_relation_table_says_which_threshold_each_setting_used():
    from rich.console import Console

    from litmine.tasks.relations.evaluation import format_tables
    from litmine.tasks.relations.typed_gold import prf

    scores = {level: prf(3, 4, 5) for level in ("pair", "pair+type", "pair+type+novelty")}
    report = {"typed_thresholds": {"given": 0.359335, "tagged": 0.3},
              "gold_ids": {"typed": scores}, "end_to_end": {"typed": scores}}
    console = Console(width=200, record=True)
    for table in format_tables(report):
        console.print(table)
    text = " ".join(console.export_text().split())  # the caption wraps at the table's width
    assert "Pairs kept at 0.359 with gold IDs, 0.3 with predicted ones" in text
    assert "gold_ids" in text and "end_to_end" in text
