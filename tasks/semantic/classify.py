"""Classify abstracts by study type: zero-shot (label descriptions or NLI) or a trained classifier.

Three methods, one output (`classifications` table: pmid, model, method, label, score, run_id):

- ``embedding`` (default, offline): each study type is described by a few sentences; their
  embeddings (same sentence encoder as `litmine search`) are averaged into a prototype, and an
  abstract gets the type whose prototype is closest (cosine). The "label description" zero-shot
  method of Chang et al. 2008 ("Importance of semantic representation: dataless
  classification", AAAI) with sentence embeddings in place of ESA.
- ``nli``: an NLI model scores "This study is a {type}." against the abstract; the entailment
  logits are soft-maxed over the types (Yin, Hay & Roth 2019, "Benchmarking zero-shot text
  classification", EMNLP; the same arithmetic as transformers' zero-shot-classification
  pipeline with multi_label=False, e.g. with facebook/bart-large-mnli).
- ``trained``: a sequence classifier fine-tuned from the same MiniLM on PubMed's own
  PublicationType labels (`litmine.tasks.training.study_types.train_study_classifier`),
  scored on a held-out split.

The label of a stored article comes from its publication types by `study_type_of`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import torch

from litmine.errors import LitmineError, ModelError
from litmine.tasks.loading import load_pretrained
from litmine.tasks.semantic.embeddings import Embedder


@dataclass(frozen=True)
class StudyType:
    """A study type: the PubMed publication types that mean it, and how to describe it."""

    label: str
    publication_types: tuple[str, ...]
    descriptions: tuple[str, ...]  # for the embedding zero-shot method
    phrase: str  # for the NLI hypothesis "This study is a {phrase}."


#: In priority order: an article gets the first type whose publication types it carries
#: (a meta-analysis is also a review; an RCT is also a clinical trial). Publication type names
#: are NLM's (https://www.nlm.nih.gov/mesh/pubtypes.html).
STUDY_TYPES: tuple[StudyType, ...] = (
    StudyType("meta-analysis", ("Meta-Analysis",), (
        "A meta-analysis pooling the results of several studies.",
        "We performed a meta-analysis of published studies and calculated pooled estimates."),
        "meta-analysis"),
    StudyType("systematic review", ("Systematic Review",), (
        "A systematic review of the literature.",
        "We systematically searched MEDLINE, Embase and the Cochrane Library for eligible studies."),
        "systematic review"),
    StudyType("randomized controlled trial", (
        "Randomized Controlled Trial", "Randomized Controlled Trial, Veterinary"), (
        "A randomized controlled trial.",
        "Patients were randomly assigned to receive the drug or placebo in a double-blind trial."),
        "randomized controlled trial"),
    StudyType("clinical trial", (
        "Clinical Trial", "Clinical Trial, Phase I", "Clinical Trial, Phase II",
        "Clinical Trial, Phase III", "Clinical Trial, Phase IV", "Controlled Clinical Trial",
        "Pragmatic Clinical Trial", "Equivalence Trial", "Adaptive Clinical Trial",
        "Clinical Trial, Veterinary"), (
        "A clinical trial of a treatment in patients.",
        "In this open-label trial, patients received the study drug and outcomes were assessed."),
        "clinical trial"),
    StudyType("observational study", ("Observational Study", "Observational Study, Veterinary"), (
        "An observational cohort, case-control or cross-sectional study.",
        "We followed participants over time and examined associations between exposures and "
        "outcomes."), "observational study"),
    StudyType("case report", ("Case Reports",), (
        "A case report of a single patient.",
        "We report the case of a patient who presented with unusual symptoms."), "case report"),
    StudyType("review", ("Review", "Scoping Review"), (
        "A review article summarizing current knowledge.",
        "This review discusses recent advances and the current understanding of the topic."),
        "review article"),
    StudyType("other", (), (
        "An original laboratory research study.",
        "Experiments in cells, animals or molecules investigated biological mechanisms.",
        "We measured and compared samples in an experimental study."), "basic research study"),
)
LABELS = tuple(t.label for t in STUDY_TYPES)
OTHER = "other"


def study_type_of(publication_types: Iterable[str]) -> str:
    """The study type PubMed's publication types imply (first match in STUDY_TYPES, else other)."""
    given = set(publication_types or ())
    for study_type in STUDY_TYPES:
        if given & set(study_type.publication_types):
            return study_type.label
    return OTHER


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # cosine similarity (embedding) or probability (nli, trained)


# -- zero-shot by label descriptions -----------------------------------------------------------

_PROTOTYPES: dict[tuple, np.ndarray] = {}


def label_prototypes(embedder: Embedder, types: Sequence[StudyType] = STUDY_TYPES) -> np.ndarray:
    """One unit vector per type: the normalised mean of its descriptions' embeddings (cached)."""
    key = (embedder.model_name, str(embedder.device), tuple(types))
    if key in _PROTOTYPES:
        return _PROTOTYPES[key]
    rows = []
    for study_type in types:
        mean = embedder.embed(list(study_type.descriptions)).mean(0)
        rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
    _PROTOTYPES[key] = np.stack(rows)
    return _PROTOTYPES[key]


def classify_by_embedding(embedder: Embedder, texts: Sequence[str],
                          types: Sequence[StudyType] = STUDY_TYPES) -> list[Prediction]:
    """Zero-shot: the type whose description prototype is nearest to each text (cosine)."""
    if not texts:
        return []
    sims = embedder.embed(list(texts)) @ label_prototypes(embedder, types).T
    best = sims.argmax(1)
    return [Prediction(types[j].label, float(sims[i, j])) for i, j in enumerate(best)]


# -- models with a sequence-classification head (NLI, trained) ---------------------------------

class SequenceModel:
    """A loaded ...ForSequenceClassification model; `truncated` counts inputs cut to fit."""

    def __init__(self, model: str, *, device: str = "auto", kind: str, stage: str = "classify"):
        loaded = load_pretrained(model, "sequence-classification", kind=kind, stage=stage,
                                 device=device)
        self.model_name, self.config = loaded.name, loaded.config
        self._model, self._tokenizer, self.device = loaded.model, loaded.tokenizer, loaded.device
        self.labels = [self.config.id2label[i] for i in range(self.config.num_labels)]
        limit = getattr(self.config, "max_position_embeddings", None) or 512
        if self.config.model_type in {"roberta", "xlm-roberta", "camembert", "bart", "mbart"}:
            limit -= 2  # positions offset by 2 (fairseq convention)
        tokenizer_limit = self._tokenizer.model_max_length
        self.max_length = min(limit, tokenizer_limit) if 0 < tokenizer_limit < 1_000_000 else limit
        self.truncated = 0

    def logits(self, first: Sequence[str], second: Sequence[str] | None = None, *,
               batch_size: int = 16) -> np.ndarray:
        """Logits [n, n_labels] for texts (or text pairs, truncating only the first of each)."""
        out = []
        for i in range(0, len(first), batch_size):
            a = list(first[i:i + batch_size])
            b = list(second[i:i + batch_size]) if second is not None else None
            full = self._tokenizer(a, b, truncation=False)["input_ids"]
            self.truncated += sum(len(ids) > self.max_length for ids in full)
            enc = self._tokenizer(a, b, truncation="only_first" if b else True,
                                  max_length=self.max_length, padding=True, return_tensors="pt")
            with torch.inference_mode():
                logits = self._model(**{k: v.to(self.device) for k, v in enc.items()}).logits
            out.append(logits.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)


class NLIClassifier(SequenceModel):
    """Zero-shot study types with an NLI model (one with an 'entailment' label)."""

    def __init__(self, model: str, *, device: str = "auto",
                 template: str = "This study is a {}."):
        super().__init__(model, device=device, kind="an NLI model (entailment/neutral/contradiction)")
        found = [i for i, label in enumerate(self.labels) if label.lower().startswith("entail")]
        if not found:
            raise ModelError(f"classify: model {model!r} has labels {self.labels}, no 'entailment' "
                             "label, so it is not an NLI model; pass one such as "
                             "facebook/bart-large-mnli, or use the default embedding method.")
        self.entailment_id = found[0]
        self.template = template

    def classify(self, texts: Sequence[str], types: Sequence[StudyType] = STUDY_TYPES,
                 batch_size: int = 16) -> list[Prediction]:
        """The type whose hypothesis is most entailed by each text (softmax over types)."""
        hypotheses = [self.template.format(t.phrase) for t in types]
        premises = [text for text in texts for _ in hypotheses]
        logits = self.logits(premises, hypotheses * len(texts), batch_size=batch_size)
        entail = logits[:, self.entailment_id].reshape(len(texts), len(types))
        probs = np.exp(entail - entail.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        return [Prediction(types[j].label, float(probs[i, j]))
                for i, j in enumerate(probs.argmax(1))]


class TrainedClassifier(SequenceModel):
    """A study-type classifier fine-tuned by `train_study_classifier` (or any with named labels)."""

    def __init__(self, model: str, *, device: str = "auto"):
        super().__init__(model, device=device, kind="a study-type sequence classifier")
        if all(label.startswith("LABEL_") for label in self.labels):
            raise ModelError(f"classify: model {model!r} has no label names ({self.labels}); "
                             "pass a classifier trained by `litmine train-classifier`.")

    def classify(self, texts: Sequence[str], batch_size: int = 16) -> list[Prediction]:
        logits = self.logits(list(texts), batch_size=batch_size)
        probs = torch.from_numpy(logits).softmax(-1).numpy()
        return [Prediction(self.labels[j], float(probs[i, j]))
                for i, j in enumerate(probs.argmax(1))]


# -- data, split, scores -----------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    pmid: str
    text: str
    label: str


def labelled_articles(con: duckdb.DuckDBPyConnection, *, limit: int | None = None) -> list[Example]:
    """Stored articles with an abstract, labelled by their publication types (ordered by PMID)."""
    rows = con.execute(
        "SELECT pmid, title || ' ' || abstract, publication_types FROM articles "
        "WHERE abstract IS NOT NULL AND trim(abstract) <> '' ORDER BY pmid"
        + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
    return [Example(pmid, text, study_type_of(types or ())) for pmid, text, types in rows]


def split_heldout(examples: Sequence[Example], test_fraction: float = 0.3,
                  seed: int = 13) -> tuple[list[Example], list[Example]]:
    """A stratified (train, test) split that depends only on PMIDs, labels and the seed.

    Within each label, examples are ordered by md5(seed:pmid) and the first
    round(fraction x n) go to test (at least one when a label has two or more), so the split is
    the same on every machine. (Adding articles can move a PMID across: a trained model keeps
    its own test PMIDs in split.json for that reason.)
    """
    if not 0 < test_fraction < 1:
        raise LitmineError(f"classify: test fraction must be between 0 and 1, got {test_fraction}")
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.label, []).append(example)
    train, test = [], []
    for label in sorted(by_label):
        group = sorted(by_label[label],
                       key=lambda e: hashlib.md5(f"{seed}:{e.pmid}".encode()).hexdigest())
        n_test = max(1, round(test_fraction * len(group))) if len(group) >= 2 else 0
        test += group[:n_test]
        train += group[n_test:]
    return sorted(train, key=lambda e: e.pmid), sorted(test, key=lambda e: e.pmid)


def score_labels(gold: Sequence[str], predicted: Sequence[str]) -> dict:
    """Precision, recall and F1 per label, macro-F1 and accuracy.

    The macro average runs over every label in gold or predictions (scikit-learn's
    f1_score(average="macro") convention), so a type predicted but never true counts as 0;
    `macro_f1_gold_types` averages over the types that occur in gold only.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    tp, fp, fn = Counter(), Counter(), Counter()
    for g, p in zip(gold, predicted):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    per_label = {}
    for label in sorted(set(gold) | set(predicted), key=lambda x: (x not in LABELS, LABELS.index(x)
                                                                   if x in LABELS else 0, x)):
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        per_label[label] = {"precision": p, "recall": r,
                            "f1": 2 * p * r / (p + r) if p + r else 0.0,
                            "support": tp[label] + fn[label]}
    macro = sum(v["f1"] for v in per_label.values()) / len(per_label) if per_label else 0.0
    present = [v["f1"] for v in per_label.values() if v["support"]]
    accuracy = sum(tp.values()) / len(gold) if gold else 0.0
    return {"per_label": per_label, "macro_f1": macro, "accuracy": accuracy, "n": len(gold),
            "macro_f1_gold_types": sum(present) / len(present) if present else 0.0}


# -- storage -----------------------------------------------------------------------------------

def store_predictions(con: duckdb.DuckDBPyConnection, pmids: Sequence[str],
                      predictions: Sequence[Prediction], *, model: str, method: str,
                      run_id: str) -> int:
    """Replace this model+method's rows for the PMIDs with the predictions; rows written."""
    table = pa.table({"pmid": list(pmids), "model": [model] * len(pmids),
                      "method": [method] * len(pmids), "label": [p.label for p in predictions],
                      "score": pa.array([p.score for p in predictions], pa.float64()),
                      "run_id": [run_id] * len(pmids)})
    con.begin()
    try:
        con.register("new_classifications", table)
        con.execute("DELETE FROM classifications WHERE model = ? AND method = ? AND pmid IN "
                    "(SELECT pmid FROM new_classifications)", [model, method])
        con.execute("INSERT INTO classifications SELECT * FROM new_classifications")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("new_classifications")
    return len(pmids)
