"""`evaluate --relations` scores mentions and concepts per type for every type the gold links, not
only Chemical and Disease: BioRED's types (mapped to Gene, Species, Variant, ...) on its sample."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from litmine.tasks.relations.evaluation import format_tables
from litmine.tasks.sources.pubtator import DEFAULT_TYPE_MAP, read_pubtator, write_pubtator
from litmine.tasks.records import Mention

WRONG_GENE = "24111"  # its mentions get another NCBI Gene ID in the predictions
LOST_SPECIES = "10116"  # its mentions (rat) are left out of the predictions


@pytest.fixture
def corpora(fixtures_dir):
    return fixtures_dir / "corpora"


def test_evaluate_scores_gene_and_species_concepts_from_predicted_files(prefect_harness, corpora, tmp_path):
    from litmine.flows.evaluate import evaluate

    gold = corpora / "biored_train_sample.pubtator"
    docs, _ = read_pubtator(gold)
    predicted = []
    for d in docs:
        mentions = []
        for m in d.mentions:
            kind = DEFAULT_TYPE_MAP.get(m.type, m.type)
            if m.concept_id == LOST_SPECIES:
                continue
            cid = "99999" if m.concept_id == WRONG_GENE else m.concept_id
            mentions.append(Mention(d.pmid, m.start, m.end, m.text, kind, concept_id=cid))
        predicted.append((d.to_article(), mentions))
    pred_file = tmp_path / "predicted.pubtator"
    write_pubtator(predicted, pred_file)
    json_out = tmp_path / "scores.json"
    report = evaluate(gold=[str(gold)], predicted=[str(pred_file)], relations=True, json_out=str(json_out),
                      show=False)

    def gold_concepts(type_, cid):
        return {d.pmid for d in docs for m in d.mentions
                if DEFAULT_TYPE_MAP.get(m.type) == type_ and m.concept_id == cid}

    concepts = report["relations"]["predicted_files"]["concepts"]["per_type"]
    assert set(concepts) == {"Gene", "Species", "Chemical", "Disease", "Variant"}
    wrong, lost = len(gold_concepts("Gene", WRONG_GENE)), len(gold_concepts("Species", LOST_SPECIES))
    assert wrong and lost  # the sample has both
    assert (concepts["Gene"]["fp"], concepts["Gene"]["fn"]) == (wrong, wrong)
    assert concepts["Gene"]["tp"] == concepts["Gene"]["n_gold"] - wrong > 0
    assert (concepts["Species"]["fp"], concepts["Species"]["fn"]) == (0, lost)
    assert concepts["Species"]["precision"] == 1.0 and concepts["Species"]["recall"] < 1.0
    for kind in ("Chemical", "Disease", "Variant"):
        assert concepts[kind]["f1"] == 1.0 and concepts[kind]["n_gold"] > 0
    # mentions: per type too; the rat mentions are false negatives
    assert report["per_type"]["Gene"]["f1"] == 1.0
    assert report["per_type"]["Species"]["fn"] > 0 and report["per_type"]["Species"]["fp"] == 0
    # the same per-type rows in --json and on stdout
    assert json.loads(json_out.read_text())["relations"]["predicted_files"]["concepts"]["per_type"] == concepts
    # (the tables `evaluate` prints with show=True; capturing the real stdout would also capture
    # the stream Prefect's log handler keeps for the rest of the session)
    console = Console(file=io.StringIO(), width=80)
    for table in format_tables(report["relations"]):
        console.print(table)
    out = console.file.getvalue()
    concepts_table = out.split("Concept-level scores", 1)[1].split("CID relation scores", 1)[0]
    rows = [line.split() for line in concepts_table.splitlines() if line.split()[:1] == ["predicted_files"]]
    assert sorted(r[1] for r in rows) == ["Chemical", "Disease", "Gene", "Species", "Variant"]
    assert ["predicted_files", "Gene", *map(str, (concepts["Gene"]["n_gold"], concepts["Gene"]["n_predicted"]))] \
        == next(r[:4] for r in rows if r[1] == "Gene")


def test_evaluate_scores_only_the_types_asked_for(prefect_harness, corpora):
    from litmine.flows.evaluate import evaluate

    gold = str(corpora / "biored_train_sample.pubtator")
    report = evaluate(gold=[gold], predicted=[gold], types=["Gene", "Species"], relations=True, show=False)
    concepts = report["relations"]["predicted_files"]["concepts"]["per_type"]
    assert set(concepts) == {"Gene", "Species"} == set(report["per_type"])
    assert all(c["f1"] == 1.0 for c in concepts.values())

