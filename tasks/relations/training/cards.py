"""Model cards (README.md) of the relation models: command, data, parameters, scores; and the
pair typer's section in the typed model's card."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from litmine.tasks.relations.model_config import RELATION_FILE
from litmine.tasks.relations.pair_types import TYPER_FILE
from litmine.tasks.scoring import pct
from litmine.tasks.training.cards import (card_base_model, command_section, front_matter,
                                          write_card)

#: What `litmine train-relations` cards are tagged with on the hub.
RELATION_TAGS = ("litmine", "biomedical", "relation-extraction", "bc5cdr", "cid")


def card_sections(command_line: str | None, files: Sequence[dict]) -> tuple[str, str]:
    """A model card's "Command" block and "Data" file table (path, sha256 prefix)."""
    rows = "\n".join(f"| `{f['path']}` | `{f['sha256'][:16]}…` |" for f in files)
    return (command_section(command_line, "train-relations"),
            f"## Data\n\n| file | sha256 |\n|---|---|\n{rows}")


def relation_card_front_matter(base: str | None, licence: str = "apache-2.0") -> str:
    """The YAML front matter of a CID model card (the hub's metadata block)."""
    return front_matter(licence=licence, base_model=base, pipeline_tag="text-classification",
                        tags=RELATION_TAGS)


def write_relation_card(path: Path, result: dict, command_line: str | None = None) -> Path:
    """README.md for a relation model: command, data, per-epoch dev scores, threshold."""
    p, d = result["params"], result["data"]
    base = card_base_model(p["base_model"])
    rows = "\n".join(
        f"| {e['epoch']} | {e['train_loss']:.4f} | {pct(e['dev']['tuned']['precision'])} | "
        f"{pct(e['dev']['tuned']['recall'])} | {pct(e['dev']['tuned']['f1'])} | "
        f"{e['dev']['tuned']['threshold']:.3f} | {pct(e['dev']['at_0.5']['f1'])} | "
        f"{e['train_seconds']:.0f} |" for e in result["epochs"])
    command, data = card_sections(command_line, d["files"])
    text = relation_card_front_matter(base) + f"""
# litmine CID relation classifier

A two-class sequence classifier (none / CID) fine-tuned from `{base}` on chemical-induced
disease relations. Input: one evidence text (a sentence, or two adjacent sentences) with the
chemical marked as `@ * chemical * ... @` and the disease as `# ^ disease ^ ... #`. A candidate
(document, chemical MeSH ID, disease MeSH ID) scores the maximum over its evidence texts and is
a CID relation at or above the threshold in `{RELATION_FILE}` ({result['threshold']:.3f}).

{command}

Parameters: epochs {p['epochs']} (best {result['best_epoch']}), lr {p['lr']}, batch size
{p['batch_size']}, max length {p['max_length']}, warm-up {p['warmup_ratio']}, weight decay
{p['weight_decay']}, seed {p['seed']}, aggregation {p['aggregation']}. Training took
{result['seconds'] / 60:.1f} minutes.

{data}

{d['train_documents']} training documents ({d['train_relations']} CID relations), {d['train_examples']}
evidence texts ({d['train_positive']} positive); {d['dev_documents']} dev documents, {d['dev_examples']}
evidence texts. Gold entities and gold MeSH IDs build the candidates.

## Dev scores per epoch (gold entities, document-level CID P/R/F1)

| epoch | loss | P | R | F1 | threshold | F1 at 0.5 | train seconds |
|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

The threshold is tuned on these dev documents, so the tuned dev F1 is optimistic; the "F1 at
0.5" column is the untuned figure. Recall is bounded by candidates with evidence: relations whose
chemical and disease never occur in the same or adjacent sentences are not predicted.

## Licences

- Base encoder sentence-transformers/all-MiniLM-L6-v2: Apache-2.0.
- BioCreative V CDR corpus (Li et al. 2016, Database baw068): NCBI/NLM public domain notice.
"""
    return write_card(path, text)


def write_linear_card(path: Path, result: dict, command_line: str | None = None) -> Path:
    """README.md of a linear CID model: command, data, CV threshold, dev scores."""
    d, dev, cv = result["data"], result["dev_gold_entities"], result["cv"]
    command, data = card_sections(command_line, d["files"])
    tree_text = (f", and the MeSH hierarchy ({d['mesh_tree_concepts']} concepts in "
                 "`mesh_tree.tsv.gz`): each concept's tree categories, whether the document names "
                 "a more specific concept below it, and the rule that a relation with a more "
                 "specific disease (chemical) replaces one with its ancestor"
                 if d.get("mesh_tree_concepts") else "")
    row = lambda name, s: (f"| {name} | {s['threshold']:.3f} | {s['tp']} | {s['fp']} | "  # noqa
                           f"{s['fn']} | {pct(s['precision'])} | {pct(s['recall'])} | "
                           f"{pct(s['f1'])} |")
    text = relation_card_front_matter(None, licence="other") + f"""
# litmine CID relation classifier (linear)

Logistic regression (L2, C={result['params']['c']}) over features of a (document, chemical
MeSH ID, disease MeSH ID) candidate: words between and around the closest chemical/disease
mentions of every evidence sentence (or adjacent pair), their order and distance, where and how
often each concept occurs (title, frequency rank), title trigger words, how often the
chemical, disease and pair were CID relations in the training documents (out-of-fold for
training){tree_text}. Weights are plain JSON in `{'weights.json.gz'}`; the threshold is in
`relation.json`.

{command}

{data}

{d['train_documents']} training documents ({d['train_relations']} CID relations, {d['train_candidates']}
candidates, {d['train_positive']} of them positive), {d['dev_documents']} dev documents
({d['dev_relations']} relations); {d['features']} non-zero weights. Candidates are built from gold
entities with gold MeSH IDs. Training took {result['seconds']:.0f} seconds.

## Threshold and scores (document-level CID, gold entities)

The threshold {cv['threshold']:.3f} maximises F1 of {result['params']['folds']}-fold out-of-fold
predictions on the training documents (CV F1 {pct(cv['f1'])}, P {pct(cv['precision'])},
R {pct(cv['recall'])}); the dev documents were not used to choose it.

| dev scored at | threshold | TP | FP | FN | P | R | F1 |
|---|---:|---:|---:|---:|---:|---:|---:|
{row('CV threshold (shipped)', dev['at_threshold'])}
{row('0.5', dev['at_0.5'])}
{row('best on dev (reference only)', dev['dev_tuned'])}

Recall is bounded by candidates: a relation whose chemical or disease is not annotated in the
document cannot be found. End-to-end scores (predicted entities and IDs) are in docs/relations.md.

## Licences

- BioCreative V CDR corpus (Li et al. 2016, Database baw068): NCBI/NLM public domain notice.
"""
    return write_card(path, text)


def write_stacked_card(path: Path, result: dict, command_line: str | None = None) -> Path:
    """README.md of a stacked CID model: command, data, members, combination, dev scores."""
    d, c, doc = result["data"], result["combination"], result["document"]
    command, data = card_sections(command_line, d["files"])
    cid = "cid_held_out" if doc.get("task") == "joint" else "held_out"  # a joint head: its CID
    epochs = "\n".join(
        f"| {e['epoch']} | {e['train_loss']:.4f} | {pct(e[cid]['precision'])} | "
        f"{pct(e[cid]['recall'])} | {pct(e[cid]['f1'])} | "
        f"{e['train_seconds']:.0f} |" for e in doc["epochs"])
    dev = result["dev_gold_entities"]
    row = lambda name, s: (f"| {name} | {s['tp']} | {s['fp']} | {s['fn']} | "  # noqa: E731
                           f"{pct(s['precision'])} | {pct(s['recall'])} | {pct(s['f1'])} |")
    shared = doc.get("kind") == "shared"
    base = card_base_model(doc["params"]["ner_model" if shared else "base_model"])
    member = (f"a head over the token states that the NER model `{base}` keeps after "
              f"{doc['params'].get('states_layer')} of its layers (its own pass; "
              "`litmine.tasks.relations.shared`), reading the whole abstract with every "
              "mention's tokens marked" if shared else
              f"`{base}` fine-tuned to read the whole abstract with every mention marked")
    text = relation_card_front_matter(None if shared else base) + f"""
# litmine CID relation model (stacked: linear + document encoder)

Scores every (document, chemical MeSH ID, disease MeSH ID) candidate with two members and
combines them (`litmine.tasks.relations.stacked`):

- `linear/`: logistic regression over evidence words, positions, MeSH hierarchy and training
  priors ({pct(result['linear_cv']['f1'])} F1 in 5-fold cross-validation on the training documents);
- `{result.get('document_model') or 'document/'}`: {member}, scoring each concept pair (ATLOP-style pooling; Zhou et al. 2021){_joint_member(doc)}.

P(CID) = sigmoid({c['intercept']:.3f} {c['weights'][0]:+.3f} logit(linear) {c['weights'][1]:+.3f}
logit(document)); a relation at or above {c['threshold']:.3f}, unless a more specific MeSH
disease (or chemical) of the same document is predicted with the same partner.

{command}

{data}

{d['train_documents']} training documents: {d['fit_documents']} fit both members and
{d['held_out_documents']} (every {result['params']['hold_out_every']}th; {d['held_out_relations']} relations) were held out to
pick the encoder's epoch and fit the combination and threshold (the median of the F1-maximising
thresholds of 200 resamples of those documents; held-out F1 {pct(c['held_out']['f1'])} at it). The shipped linear member was then refitted on all
{d['train_documents']}. Candidates come from gold entities with gold MeSH IDs. {d['dev_documents']}
dev documents were only scored. Training took {result['seconds'] / 60:.1f} minutes.

## Document encoder epochs (held-out training documents)

| epoch | loss | P | R | F1 | train seconds |
|---:|---:|---:|---:|---:|---:|
{epochs}

Kept: epoch {doc['best_epoch']}.

## Dev scores (document-level CID, gold entities and IDs)

| scored | TP | FP | FN | P | R | F1 |
|---|---:|---:|---:|---:|---:|---:|
{row('as shipped (threshold and hierarchy rule)', dev['at_threshold'])}
{row('score >= 0.5', dev['at_0.5'])}
{row('best threshold on dev (reference only)', dev['dev_tuned'])}

End-to-end scores (predicted entities and IDs) are in docs/relations.md.

## Licences

- Base encoder sentence-transformers/all-MiniLM-L6-v2: Apache-2.0.
- BioCreative V CDR corpus (Li et al. 2016, Database baw068): NCBI/NLM public domain notice.
- MeSH (tree numbers in `linear/mesh_tree.tsv.gz`): public domain, NLM.
"""
    return write_card(path, text)


def write_typed_card(path: Path, result: dict, command_line: str | None = None) -> Path:
    """README.md of a BioRED typed relation model: command, data, epochs, dev scores."""
    d, p = result["data"], result["params"]
    command, data = card_sections(command_line, d["files"])
    levels = ("pair", "pair+type", "pair+type+novelty")
    epochs = "\n".join(
        f"| {e['epoch']} | {e['train_loss']:.4f} | "
        + " | ".join(pct(e["held_out"][k]["f1"]) for k in levels)
        + f" | {e['threshold']:.3f} | {e['train_seconds']:.0f} |" for e in result["epochs"])
    dev = result.get("dev_gold_entities") or {}
    dev_rows = "\n".join(f"| {k} | {dev[k]['tp']} | {dev[k]['fp']} | {dev[k]['fn']} | "
                         f"{pct(dev[k]['precision'])} | {pct(dev[k]['recall'])} | "
                         f"{pct(dev[k]['f1'])} |" for k in levels if k in dev)
    base = card_base_model(p["base_model"])
    text = front_matter(licence="apache-2.0", base_model=base, pipeline_tag="text-classification",
                        tags=("litmine", "biomedical", "relation-extraction", "biored")) + f"""
# litmine BioRED relation model (typed pairs with novelty)

Reads a whole abstract once with every Chemical, Disease, Gene and Variant mention marked and
classes each pair of concepts (database IDs) whose entity types BioRED relates into none or one
of Association, Positive_Correlation, Negative_Correlation, Bind, Cotreatment, Comparison,
Drug_Interaction, Conversion, with a second output for novelty (`litmine.tasks.relations.typed`;
the ATLOP-style document encoder of the CID model, plus a learned embedding per entity type).
A pair is a relation when 1 - P(none) >= {result['threshold']:.3f}; it is "Novel" when
P(novel) >= {result.get('novelty_threshold', 0.5):.2f}.

{command}

Parameters: up to {p['epochs']} epochs (kept: {result['best_epoch']}), lr {p['lr']} (head
{p['head_lr']}), {p['docs_per_step']} documents a step, warm-up {p['warmup']}, patience
{p['patience']}, seed {p['seed']}, device {p['device']} (bf16 autocast on CPUs with bf16 matrix
units). Training took {result['seconds'] / 60:.1f} minutes.

{data}

{d['fit_documents']} training documents ({d['train_relations']} relations) fit the model; every
{p['hold_out_every']}th training document ({d['held_out_documents']}, {d['held_out_relations']}
relations) was held out to pick the epoch and the threshold (best pair+type F1). Excluded
PMIDs: {', '.join(p['exclude']) or 'none'}. {d['dev_documents']} dev documents
({d['dev_relations']} relations) were only scored. Relation lines left out: {d['left_out'] or 'none'}.

## Held-out F1 per epoch (gold entities and IDs)

| epoch | loss | pair | pair+type | pair+type+novelty | threshold | train seconds |
|---:|---:|---:|---:|---:|---:|---:|
{epochs}

## Dev scores (gold entities and IDs, BioCreative VIII levels)

| level | TP | FP | FN | P | R | F1 |
|---|---:|---:|---:|---:|---:|---:|
{dev_rows}

End-to-end scores (predicted entities and IDs) come from `litmine evaluate --relations`; see
docs/relations.md.

## Licences

- Base encoder sentence-transformers/all-MiniLM-L6-v2: Apache-2.0.
- BioRED (Luo et al. 2022, Briefings in Bioinformatics 23(5)): NCBI/NLM public domain notice.
"""
    return write_card(path, text)


def write_shared_card(path: Path, result: dict, command_line: str | None = None) -> Path:
    """README.md of a shared relation model (a head over a NER model's states): command, data,
    held-out scores per epoch, dev scores."""
    p, d = result["params"], result["data"]
    command, data = card_sections(command_line, d.get("files", []))
    if result["task"] == "CID":
        levels, title = ("f1",), "CID (the stacked model's document member)"
        epochs = "\n".join(f"| {e['epoch']} | {e['train_loss']:.4f} | {pct(e['held_out']['f1'])} "
                           f"| {e['threshold']:.3f} | {e['train_seconds']:.0f} |"
                           for e in result["epochs"])
        header = "| epoch | loss | F1 | threshold | train seconds |\n|---:|---:|---:|---:|---:|"
        dev = result.get("dev_gold_entities") or {}
        dev_rows = (f"| CID pair | {pct(dev['precision'])} | {pct(dev['recall'])} | "
                    f"{pct(dev['f1'])} |" if dev else "")
    else:
        joint = result["task"] == "joint"
        levels = ("pair", "pair+type", "pair+type+novelty")
        title = ("BioRED typed relations and CID, one head" if joint
                 else "BioRED typed relations")
        epochs = "\n".join(f"| {e['epoch']} | {e['train_loss']:.4f} | "
                           + " | ".join(pct(e["held_out"][k]["f1"]) for k in levels)
                           + (f" | {pct(e['cid_held_out']['f1'])}" if joint else "")
                           + f" | {e['threshold']:.3f} | {e['train_seconds']:.0f} |"
                           for e in result["epochs"])
        header = ("| epoch | loss | pair | pair+type | pair+type+novelty | "
                  + ("CID | " if joint else "") + "threshold | train seconds |\n"
                  + "|---:" * (8 if joint else 7) + "|")
        dev = result.get("dev_gold_entities") or {}
        dev_rows = "\n".join(f"| {k} | {pct(dev[k]['precision'])} | {pct(dev[k]['recall'])} | "
                             f"{pct(dev[k]['f1'])} |" for k in (*levels, "CID") if k in dev)
    text = front_matter(licence="apache-2.0", base_model=None, pipeline_tag="text-classification",
                        tags=("litmine", "biomedical", "relation-extraction")) + f"""
# litmine shared relation head: {title}

Reads the token states that the NER model `{p['ner_model']}` (`{p['ner_model_id']}`) keeps
after {p['states_layer']} of its layers during its own pass over a document's sentences, so
relations cost no second encoder pass (`litmine.tasks.relations.shared`): {p['layers']} BERT
layers initialised from that model's upper layers read the whole document with each mention's
tokens marked by entity type, then ATLOP's concept pooling, localized context pooling and
grouped bilinear head score every candidate pair of concepts. The NER model was frozen.

{command}

Parameters: up to {p['epochs']} epochs (kept: {result['best_epoch']}), lr {p['lr']} (head
{p['head_lr']}), {p['docs_per_step']} documents a step, warm-up {p['warmup']}, patience
{p['patience']}, seed {p['seed']}, device {p['device']}, NER states in {p['states_dtype']}
(bf16 autocast on CPUs with bf16 matrix units). Training took {result['seconds'] / 60:.1f}
minutes, the NER passes included.

{data}

{_joint_data(d) if result["task"] == "joint" else ""}{d['fit_documents']} training documents ({d['train_relations']} relations) fit the head;
{d['held_out_documents']} held-out training documents ({d['held_out_relations']} relations)
picked the epoch and the thresholds; {d['dev_documents']} dev documents
({d['dev_relations']} relations) were only scored. {d.get('excluded', '')}

## Held-out F1 per epoch (gold entities and IDs)

{header}
{epochs}

## Dev scores (gold entities and IDs)

| level | P | R | F1 |
|---|---:|---:|---:|
{dev_rows}

End-to-end scores come from `litmine evaluate --relations`; see docs/relations.md.
"""
    return write_card(path, text)


def _joint_data(d: dict) -> str:
    """The sentence of a joint head's card on its two corpora."""
    return (f"BioRED documents teach the typed relations and BC5CDR documents the CID column; of "
            f"the documents below, {d['cid_fit_documents']} training, "
            f"{d['cid_held_out_documents']} held-out and {d['cid_dev_documents']} dev documents "
            "are BC5CDR's. ")


def _joint_member(doc: dict) -> str:
    """What a stacked card says of a joint document member."""
    if doc.get("task") != "joint":
        return ""
    return ("; one head for this and BioRED's typed relations (trained on both corpora; its "
            "own card lists the BioRED scores), so one pass of it serves both when mining")


#: The card section the typer owns (replaced on retraining).
SECTION_START = "<!-- pair-types: written by litmine train --method pair-types -->"
SECTION_END = "<!-- /pair-types -->"


def _check_line(check: dict[str, Any]) -> str:
    """The card's line on whether the held-out documents were the head's."""
    if not check.get("checked"):
        return f"(Not checked that the held-out documents are the head's: {check.get('why')}.)"
    if check["matches"]:
        return (f"The held-out documents are the head's own: {check['here']['gold']} gold "
                f"relations, the head's pair F1 {check['here']['pair_f1']} on them (its training "
                f"recorded {check['recorded']['pair_f1']}).")
    return f"**Warning**: {check['warning']}."


def write_typer_section(card: Path, result: dict[str, Any]) -> Path:
    """Put (or replace) the pair typer's section in the model card `card`."""
    fit, dev = result["fit"], result["dev_gold_pairs"]
    related = fit["relatedness"]
    cv_type = ", ".join(f"C={c}: {a}" for c, a in fit["type_cv_accuracy"].items())
    cv_novel = ", ".join(f"C={c}: {a}" for c, a in fit["novelty_cv_accuracy"].items())
    cv_related = ", ".join(f"C={c}: {a}" for c, a in related["cv_log_loss"].items())
    stack = related["stack"]
    check_line = _check_line(result.get("held_out_check") or {"why": "not recorded"})
    evidence = fit.get("evidence")
    reads = ("" if not evidence else
             f" The type also reads the sentences naming each pair, embedded by `{evidence['model']}`"
             f" (weight {evidence['weight']}; `litmine.tasks.relations.evidence`).")
    if "bagged_threshold" in related and related["bagged_threshold"] != related["threshold"]:
        at = (f"{related['threshold']} (given, `--threshold`; the bagged best F1 on these "
              f"documents was {related['bagged_threshold']}, held-out pair F1 "
              f"{related['held_pair_f1_bagged']}; it is the threshold for given entities and "
              "IDs, `litmine mine --entities given`)")
    else:
        at = f"{related['threshold']} (bagged best F1)"
    at_threshold = (f", {dev['pair_f1_at_threshold']} at {related['threshold']}"
                    if "pair_f1_at_threshold" in dev else "")
    section = f"""{SECTION_START}
## Pair typer (`{TYPER_FILE}`, {result['fingerprint']})

Logistic regressions over the words around each pair the head scores
(`litmine.tasks.relations.pair_types`) decide, with the head's score, which pairs are
relations, and alone their type and novelty.{reads} Trained in {result['seconds']} s:

```
{result.get('command_line') or '(trained from Python)'}
```

Type and novelty: {fit['relations']} gold relations of {result['data']['train_documents']}
training documents ({fit['features']} features); C by 5-fold cross-validation by document:

| | cross-validated accuracy | chosen C |
|---|---|---:|
| type | {cv_type} | {fit['type_c']} |
| novelty | {cv_novel} | {fit['novelty_c']} |

Relation or not: the words' regression fitted on the {related['fit_pairs']} candidate pairs
({related['fit_related']} related) of {result['data']['fit_documents']} documents (C
{related['c']} by cross-validated log loss: {cv_related}), stacked with the head's score on the
{related['held_documents']} held-out documents the head did not train on
({result['data'].get('split', 'every 6th')}; {related['held_pairs']}
pairs, {related['held_gold']} gold relations): P = sigmoid({stack['head']} logit(head) +
{stack['words']} logit(words) + {stack['intercept']}), a relation at {at}. Held-out pair
F1 {related['held_pair_f1']} (the head alone at its best threshold:
{related['held_pair_f1_head_best']}).

Dev ({result['data']['dev_documents']} documents, {dev['pairs']} gold pairs, gold entities and
IDs, only scored): pair F1 **{dev['pair_f1']}** at the threshold for given IDs{at_threshold}
(the head alone: {dev['head_pair_f1']}); type
right for **{dev['type_accuracy']}%** of the gold pairs (the majority type of each entity-type
pair in training: {dev['prior_type_accuracy']}%), novelty for **{dev['novelty_accuracy']}%**
(always "Novel": {dev['always_novel_accuracy']}%).
{check_line}
{SECTION_END}
"""
    text = card.read_text() if card.is_file() else ""
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section.rstrip("\n") + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    card.write_text(text)
    return card
