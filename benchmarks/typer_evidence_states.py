"""Can the pair typer read a relation's evidence off the NER pass's own token states? (PT12)

PT10/PT11 (the relation model's card) gave the typer's type regression a sentence embedding of
each pair's evidence from a second encoder pass, too slow for `mine`. The NER model has already
read every sentence: this prototype pools its token states instead, at no extra pass. For each
gold relation of a BioRED-format training file: the mean state of the evidence sentences (as
`litmine.tasks.relations.evidence` chooses them: at most two naming both concepts, else the
first naming each), of the first concept's mention tokens in them and of the second's, each
L2-normalised, times a weight, appended to the shipped typer's word features. Type accuracy by
5-fold cross-validation by document on the training file (which chooses), and on the dev file
(only scored), for each layer, weight and C; "words" is the shipped typer's feature set.

Usage:
    python benchmarks/typer_evidence_states.py [--train FILE] [--dev FILE]
        [--exclude-pmids FILE] [--model NER_MODEL] [--layers 4,6] [--weights 1,2,3]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score

from litmine.settings import DEFAULT_NER_MODEL
from litmine.tasks.ner.engine import load_tagger
from litmine.tasks.relations.evidence import MAX_SENTENCES, sentence_at
from litmine.tasks.relations.pair_types import sentence_spans
from litmine.tasks.relations.training.pair_types import int32_indices, typing_examples
from litmine.tasks.relations.typed import typed_spans
from litmine.tasks.relations.typed_gold import canonical_mentions, gold_relations
from litmine.tasks.text.sentences import split_article
from litmine.tasks.training.corpus import read_corpus

CORPUS = "../shared/data/corpora/"


def mean_state(states, ranges) -> torch.Tensor:
    rows = [states.states[a:b].float() for a, b in ranges]
    if not rows:
        return torch.zeros(states.states.shape[1])
    mean = torch.cat(rows).mean(0)
    return mean / (mean.norm() + 1e-6)


def evidence_vectors(tagger, docs, layer: int) -> np.ndarray:
    """One row per gold relation, in `typing_examples`' order: evidence sentences, first
    concept's tokens, second concept's tokens (mean states, each L2-normalised), from one NER
    pass over `docs` keeping the states after `layer` layers (as `mine` keeps them)."""
    sentences = [s for doc in docs for s in split_article(doc.to_article())]
    by_pmid = tagger.tag_documents(sentences, states_layer=layer).states
    rows = []
    for doc in docs:
        states = by_pmid[doc.pmid]
        spans = typed_spans(canonical_mentions(doc))
        key_of: dict = {}
        for key in sorted(spans):
            key_of.setdefault(key[1], key)
        sentences = sentence_spans(doc.text, title_length=len(doc.title))
        for pair in gold_relations(doc):
            keys = sorted(key_of[cid] for cid in pair if cid in key_of)
            if len(keys) != 2:
                continue
            a, b = keys
            in_a = {sentence_at(sentences, s) for s, _ in spans[a]}
            in_b = {sentence_at(sentences, s) for s, _ in spans[b]}
            chosen = sorted(in_a & in_b)[:MAX_SENTENCES] or sorted({min(in_a), min(in_b)})

            def ranges(spans_, chosen=chosen, states=states):
                found = (states.token_range(s, e) for s, e in spans_)
                return [r for r in found if r]

            rows.append(torch.cat([
                mean_state(states, ranges([sentences[k] for k in chosen])),
                mean_state(states, ranges([m for m in spans[a] if sentence_at(sentences, m[0]) in chosen])),
                mean_state(states, ranges([m for m in spans[b] if sentence_at(sentences, m[0]) in chosen])),
            ]).numpy())
    return np.stack(rows)


def accuracies(train_x, labels, groups, dev_x, dev_labels, cs) -> str:
    out = []
    for c in cs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rare classes: fewer members than folds
            model = LogisticRegression(C=c, max_iter=3000, random_state=13)
            cv = cross_val_score(model, int32_indices(train_x), labels, cv=GroupKFold(n_splits=5),
                                 groups=groups).mean()
            fitted = model.fit(int32_indices(train_x), labels)
        dev = (fitted.predict(int32_indices(dev_x)) == np.asarray(dev_labels)).mean()
        out.append(f"C {c}: {100 * cv:.2f} / {100 * dev:.2f}")
    return "; ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=CORPUS + "biored/Train.PubTator")
    parser.add_argument("--dev", default=CORPUS + "biored/Dev.PubTator")
    parser.add_argument("--exclude-pmids", default=CORPUS + "HOLDOUT_PMIDS.txt")
    parser.add_argument("--model", default=DEFAULT_NER_MODEL, help="the NER model whose pass is read")
    parser.add_argument("--layers", default="4,6")
    parser.add_argument("--weights", default="1,2,3")
    parser.add_argument("--c", default="0.1,0.3")
    args = parser.parse_args()
    with open(args.exclude_pmids) as handle:
        held_out = set(handle.read().split())
    train = [d for d in read_corpus([args.train]).documents if d.pmid not in held_out]
    dev = list(read_corpus([args.dev]).documents)
    tagger = load_tagger(args.model, device="cpu", dtype="bf16")
    cs = [float(c) for c in args.c.split(",")]
    features, types, _, pmids, _, _ = typing_examples(train)
    dev_features, dev_types, *_ = typing_examples(dev)
    vectorizer = DictVectorizer()
    words, dev_words = vectorizer.fit_transform(features), vectorizer.transform(dev_features)
    print(f"{len(train)} training documents ({len(types)} relations), {len(dev)} dev documents "
          f"({len(dev_types)}); type accuracy, cross-validated / dev")
    print(f"{'words (the shipped typer)':32s}", accuracies(words, types, pmids, dev_words, dev_types, cs))
    for layer in (int(x) for x in args.layers.split(",")):
        started = time.perf_counter()
        vectors, dev_vectors = evidence_vectors(tagger, train, layer), evidence_vectors(tagger, dev, layer)
        print(f"layer {layer}: the NER passes and pooling took {time.perf_counter() - started:.0f} s")
        for weight in (float(w) for w in args.weights.split(",")):
            train_x = sp.hstack([words, sp.csr_matrix(weight * vectors)]).tocsr()
            dev_x = sp.hstack([dev_words, sp.csr_matrix(weight * dev_vectors)]).tocsr()
            print(f"{f'layer {layer}, weight {weight:g}':32s}",
                  accuracies(train_x, types, pmids, dev_x, dev_types, cs))


if __name__ == "__main__":
    main()
