"""A relation's type and novelty read from the words around its two concepts (the pair typer).

The relation heads decide well whether two concepts of an abstract are related (BioRED dev pair
F1 near 60 with gold IDs), but not how: on every gold pair of BioRED dev the shipped head picked
the right one of the eight types for 53.1%, below the 53.8% a model gets by answering the most
common type of the pair's entity types (`benchmarks/relation_types.py`). The words between two
mentions say it ("X reduced Y", "X-induced Y", "X binds Y"), so a multinomial logistic
regression over them, with the entity types, gives each pair the head found a type, and a
binary one its novelty (where in the abstract the pair is named: the title, the closing
sentences, "we found"). Bag-of-words features between entity pairs are the classic relation
extraction baseline (Zhou et al. 2005, "Exploring various knowledge in relation extraction",
ACL; Mintz et al. 2009, ACL-IJCNLP); BioRED's own paper reports such feature models beside
its transformers (Luo et al. 2022, Briefings in Bioinformatics 23(5), bbac282).

The same words also say whether two concepts are related at all: a third regression over them,
stacked with the head's score (`Relatedness`), re-scores each pair the head scored and replaces
the head's threshold. The typer lives in the relation model's directory as `TYPER_FILE`
(readable JSON weights; `RECORD_FILE` beside it records its training), is trained by
`litmine train --task relations --method pair-types`
(`litmine.tasks.relations.training.pair_types`) and is used whenever it is there. A typer
trained with `evidence` also reads, for the type, a sentence embedding of the sentences naming
the pair (`litmine.tasks.relations.evidence`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from litmine.errors import ModelError
from litmine.tasks.relations.evidence import evidence_features, evidence_text, sentence_at

#: The typer's file inside a typed relation model's directory, and the record of its training.
TYPER_FILE, RECORD_FILE = "pair_types.json.gz", "pair_types.json"
#: Version of the features below; a typer saved with another is refused (retrain it).
FEATURES_VERSION = 1

Key = tuple[str, str]  # (entity type, concept ID)
Span = tuple[int, int]

_WORD = re.compile(r"[a-z][a-z\-]+")
#: Suffixes cut from a word (at least 4 letters left): "induced", "induces" and "inducing"
#: become one feature. A light stemmer in the spirit of Porter's first step (Porter 1980,
#: "An algorithm for suffix stripping", Program 14(3)).
_SUFFIXES = ("ations", "ation", "ings", "ing", "ed", "es", "s")
#: Sentence words count half as much as words between the two mentions, and those of a
#: sentence that names only one of the concepts 0.3 (set by hand in the prototype, not tuned).
_SENTENCE_WEIGHT, _EITHER_WEIGHT = 0.5, 0.3
#: A pair named together in more sentences than this counts as this many.
_MAX_TOGETHER = 5
#: More words than this between the two closest mentions: the "far" feature.
_FAR = 20


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """`word` without the first of `_SUFFIXES` it ends in, if 4 letters or more remain."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word


def words(text: str) -> list[str]:
    """The stemmed lowercase words of `text` (letters and hyphens, at least two)."""
    return [stem(w) for w in _WORD.findall(text.lower())]


def pair_features(text: str, sentences: Sequence[Span], first: Key, second: Key,
                  spans: Mapping[Key, Sequence[Span]], cache: dict | None = None
                  ) -> dict[str, float]:
    """The features of the pair (`first`, `second`) in `text`: its entity types; for each
    sentence naming both, the words between their closest mentions and the sentence's words
    (also joined with the entity types) and where the sentence is; for a pair never named
    together, the words of the sentences naming either.

    `cache`: a dict kept for one document's pairs (what depends on the sentences alone)."""
    kinds = "|".join(sorted((first[0], second[0])))
    f: dict[str, float] = {"bias": 1.0, f"pt={kinds}": 1.0}
    cache = {} if cache is None else cache

    def add(name: str, value: float) -> None:
        f[name] = f.get(name, 0.0) + value

    def sentence_of(position: int) -> int:
        if ("at", position) not in cache:
            cache[("at", position)] = sentence_at(sentences, position)
        return cache[("at", position)]

    def sentence_words(k: int) -> tuple[str, ...]:
        if ("words", k) not in cache:
            start, end = sentences[k]
            cache[("words", k)] = tuple(dict.fromkeys(words(text[start:end])))
        return cache[("words", k)]

    in_first = {sentence_of(s) for s, _ in spans[first]}
    in_second = {sentence_of(s) for s, _ in spans[second]}
    together = sorted(in_first & in_second)
    last = len(sentences) - 1
    f["nco"] = min(len(together), _MAX_TOGETHER) / _MAX_TOGETHER
    if not together:
        f["noco"] = 1.0
        f[f"noco|{kinds}"] = 1.0
    for k in together:
        start, end = sentences[k]
        if k == 0:
            f["in_title"] = 1.0
        if k == last:
            f["in_last"] = 1.0
        if k >= last - 1:
            f["in_last2"] = 1.0
        a = [m for m in spans[first] if start <= m[0] < end]
        b = [m for m in spans[second] if start <= m[0] < end]
        (a0, a1), (b0, b1) = min(((x, y) for x in a for y in b),
                                 key=lambda xy: abs(xy[0][0] - xy[1][0]))
        between = words(text[a1:b0] if a0 < b0 else text[b1:a0])
        for w in between:
            add(f"btw={w}", 1.0)
            add(f"{kinds}|btw={w}", 1.0)
        for w in sentence_words(k):
            add(f"sent={w}", _SENTENCE_WEIGHT)
            add(f"{kinds}|sent={w}", _SENTENCE_WEIGHT)
        if len(between) > _FAR:
            f["far"] = 1.0
    either = in_first | in_second
    f["first_pos"] = min(either) / max(1, last)
    f["last_pos"] = max(either) / max(1, last)
    if last in either:
        f["any_last"] = 1.0
    if 0 in in_first and 0 in in_second:
        f["both_title"] = 1.0
    if not together:
        for k in either:
            for w in sentence_words(k):
                add(f"either={w}", _EITHER_WEIGHT)
    return f


def sentence_spans(text: str, sentences: Sequence = (), title_length: int | None = None
                   ) -> list[Span]:
    """(start, end) of each of the document's sentences: of `sentences` (records with `start`
    and `end`) when given, else of `text` split as the pipeline splits it."""
    if sentences:
        return [(s.start, s.end) for s in sentences]
    from litmine.tasks.text.sentences import split_sentences

    return split_sentences(text, title_length) or [(0, len(text))]


def _softmax(z: Sequence[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def logit(p: float) -> float:
    """log(p / (1 - p)), with p kept within [1e-6, 1 - 1e-6]."""
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Linear:
    """One binary logistic regression over named features."""

    weights: dict[str, float]
    intercept: float

    def probability(self, features: Mapping[str, float]) -> float:
        return _sigmoid(self.intercept + sum(self.weights.get(name, 0.0) * value
                                             for name, value in features.items()))

    def to_json(self) -> dict:
        return {"intercept": self.intercept, "weights": self.weights}

    @classmethod
    def from_json(cls, data: Mapping) -> Linear:
        return cls(dict(data["weights"]), float(data["intercept"]))


@dataclass(frozen=True)
class Relatedness:
    """Whether a pair is a relation: a logistic regression over `pair_features` (`words`)
    stacked with the head's score, P = sigmoid(head * logit(head's 1 - P(none)) + words *
    logit(P_words) + intercept), a relation at `threshold`; at `given_threshold` (when set)
    where the concepts are the input's own, with their IDs (`mine --entities given`)."""

    words: Linear
    head: float
    weight: float  # of the words' logit
    intercept: float
    threshold: float
    #: The threshold chosen on held-out documents with gold entities and IDs (bagged best pair
    #: F1); None: `threshold` serves every input
    given_threshold: float | None = None

    def probability(self, head_score: float, features: Mapping[str, float]) -> float:
        """P(related) of a pair the head scored `head_score` with `features`."""
        return self.combine(head_score, self.words.probability(features))

    def combine(self, head_score: float, words: float) -> float:
        """P(related) from the head's score and the words' P(related)."""
        return _sigmoid(self.head * logit(head_score) + self.weight * logit(words)
                        + self.intercept)

    def to_json(self) -> dict:
        data = {"words": self.words.to_json(), "head": self.head, "weight": self.weight,
                "intercept": self.intercept, "threshold": self.threshold}
        if self.given_threshold is not None:
            data["given_threshold"] = self.given_threshold
        return data

    @classmethod
    def from_json(cls, data: Mapping) -> Relatedness:
        given = data.get("given_threshold")
        return cls(Linear.from_json(data["words"]), float(data["head"]), float(data["weight"]),
                   float(data["intercept"]), float(data["threshold"]),
                   None if given is None else float(given))


@dataclass
class PairTyper:
    """Logistic regressions over `pair_features`: the relation type (multinomial), P(novel)
    and, when `relatedness` is set, whether the pair is a relation at all (with the head)."""

    types: tuple[str, ...]
    weights: dict[str, list[float]]  # feature -> one weight per type
    intercepts: list[float]
    novelty_weights: dict[str, float]
    novelty_intercept: float
    relatedness: Relatedness | None = None
    fingerprint: str = ""
    #: {"model": sentence encoder, "weight": w} when the type also reads the pair's evidence
    #: embedded (`litmine.tasks.relations.evidence`); None: the words alone
    evidence: dict | None = None
    #: (feature -> row, weights: one column per type, then novelty, then relatedness' words)
    _table: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def threshold(self) -> float | None:
        """The score at which a pair is a relation (None: the head's threshold holds)."""
        return None if self.relatedness is None else self.relatedness.threshold

    @property
    def given_threshold(self) -> float | None:
        """The score at which a pair of given concepts is a relation (None: `threshold`)."""
        if self.relatedness is None or self.relatedness.given_threshold is None:
            return self.threshold
        return self.relatedness.given_threshold

    def _weights(self) -> tuple:
        if self._table is None:
            import numpy as np

            related = self.relatedness.words.weights if self.relatedness else {}
            names = sorted({*self.weights, *self.novelty_weights, *related})
            index = {name: row for row, name in enumerate(names)}
            k = len(self.types)
            table = np.zeros((len(names), k + 2))
            for name, row in self.weights.items():
                table[index[name], :k] = row
            for column, weights in ((k, self.novelty_weights), (k + 1, related)):
                for name, w in weights.items():
                    table[index[name], column] = w
            self._table = (index, table)
        return self._table

    def read(self, features: Mapping[str, float]
             ) -> tuple[dict[str, float], float, float | None]:
        """(type -> probability, P(novel), the words' P(related) or None) of one pair."""
        import numpy as np

        index, table = self._weights()
        rows = [index[name] for name in features if name in index]
        values = np.fromiter((features[name] for name in features if name in index), float,
                             len(rows))
        z = values @ table[rows] if rows else np.zeros(table.shape[1])
        k = len(self.types)
        by_type = dict(zip(self.types, _softmax((z[:k] + self.intercepts).tolist())))
        novel = _sigmoid(self.novelty_intercept + float(z[k]))
        words = (None if self.relatedness is None
                 else _sigmoid(self.relatedness.words.intercept + float(z[k + 1])))
        return by_type, novel, words

    def type_probabilities(self, features: Mapping[str, float]) -> dict[str, float]:
        """Type -> probability."""
        return self.read(features)[0]

    def novelty(self, features: Mapping[str, float]) -> float:
        """P(the abstract reports the relation as its own finding)."""
        return self.read(features)[1]

    def evidence_for(self, text: str, sentences: Sequence[Span],
                     pairs: Sequence[tuple[Key, Key]], spans: Mapping[Key, Sequence[Span]],
                     *, device: str = "auto") -> list[dict[str, float]]:
        """The evidence features of each pair ({} each when this typer reads none)."""
        if self.evidence is None:
            return [{} for _ in pairs]
        texts = [evidence_text(text, sentences, a, b, spans) for a, b in pairs]
        return evidence_features(texts, self.evidence["model"], float(self.evidence["weight"]),
                                 device=device)

    def retype(self, text: str, spans: Mapping[Key, Sequence[Span]], classes: Sequence[str],
               scored: Sequence[tuple], *, sentences: Sequence = (),
               title_length: int | None = None, typed_from: float = 0.0) -> list[tuple]:
        """`scored` (first, second, class probabilities over `classes`, "none" first, P(novel))
        re-scored: P(none) from `relatedness` with the head's (the head's own without it), the
        rest divided among the types by this typer, P(novel) its.

        `sentences`: the document's `Sentence` records (else `text` is split here, its title
        ending at `title_length`). With `evidence`, the pairs whose P(related) reaches
        `typed_from` (the threshold at which pairs are kept) are typed with their evidence
        embedded, in one batch; the others, which are not kept, by their words."""
        if not scored:
            return []
        sentences = sentence_spans(text, sentences, title_length)
        cache: dict = {}
        rows = []
        for first, second, probabilities, _ in scored:
            features = pair_features(text, sentences, first, second, spans, cache)
            by_type, novel, words_related = self.read(features)
            related = 1.0 - probabilities[0]
            if self.relatedness is not None:
                related = self.relatedness.combine(related, words_related)
            rows.append([first, second, features, by_type, novel, related])
        if self.evidence is not None:
            kept = [row for row in rows if row[5] >= typed_from]
            extra = self.evidence_for(text, sentences, [(r[0], r[1]) for r in kept], spans)
            for row, more in zip(kept, extra):
                row[3] = self.read({**row[2], **more})[0]
        return [(first, second,
                 [1.0 - related, *(related * by_type.get(c, 0.0) for c in classes[1:])], novel)
                for first, second, _, by_type, novel, related in rows]

    def to_json(self) -> dict:
        data = {"features_version": FEATURES_VERSION, "types": list(self.types),
                "intercepts": self.intercepts, "weights": self.weights,
                "novelty": {"intercept": self.novelty_intercept,
                            "weights": self.novelty_weights}}
        if self.relatedness is not None:
            data["relatedness"] = self.relatedness.to_json()
        if self.evidence is not None:
            data["evidence"] = self.evidence
        return data


def save_pair_typer(directory: str | Path, typer: PairTyper) -> Path:
    """Write `typer` into `directory` as `TYPER_FILE` (deterministic bytes); return the path."""
    path = Path(directory) / TYPER_FILE
    data = json.dumps(typer.to_json(), sort_keys=True, separators=(",", ":")).encode()
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(data)
    return path


def load_pair_typer(directory: str | Path) -> PairTyper | None:
    """The typer saved in `directory`, or None when it has none."""
    path = Path(directory) / TYPER_FILE
    if not path.is_file():
        return None
    raw = path.read_bytes()
    try:
        data = json.loads(gzip.decompress(raw))
        if data.get("features_version") != FEATURES_VERSION:
            raise ValueError(f"features version {data.get('features_version')}, this litmine "
                             f"reads {FEATURES_VERSION}")
        novelty = data["novelty"]
        relatedness = (Relatedness.from_json(data["relatedness"]) if "relatedness" in data
                       else None)
        evidence = data.get("evidence")
        if evidence is not None and not (isinstance(evidence.get("model"), str)
                                         and float(evidence["weight"]) > 0):
            raise ValueError(f"evidence {evidence!r} names no sentence encoder and weight")
        return PairTyper(tuple(data["types"]), data["weights"], list(data["intercepts"]),
                         novelty["weights"], float(novelty["intercept"]), relatedness,
                         hashlib.sha256(raw).hexdigest()[:12], evidence)
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"relations: {path} is not a pair typer litmine can read ({exc}); "
                         "retrain it with `litmine train --task relations --method pair-types "
                         f"--out {directory}`, or delete it to use the head's own types") from exc
