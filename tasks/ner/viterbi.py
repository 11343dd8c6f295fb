"""The most probable label sequence that the tagging scheme allows (constrained Viterbi decoding).

A token classifier scores each word's label on its own, so the best label of each word may
form a sequence no annotation has: "I-Disease" after "O", or after "I-Chemical". Decoding that
word by word (`decode_entities`' tolerant rule: such a label starts an entity) cuts entities
apart ("cleft lip and" + "palate") or leaves their first word out. Here the words of a
sentence take instead the label sequence with the highest product of the words'
probabilities among the sequences in which every continuation label (prefix I, E, L or M)
follows an open label (prefix B, I or M, or none) of its own type: Viterbi's algorithm with
forbidden transitions (Viterbi 1967), the decoding a CRF layer does with its transition
scores, here with the transitions allowed or not and no scores learned (as AllenNLP's
`allowed_transitions` constrains its CRF).

When the labels picked one by one already form an allowed sequence, that sequence is the best
allowed one, so only sentences with a forbidden transition are decoded (most are not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Probabilities are floored here before their logarithm (a label the model rules out).
FLOOR = 1e-12


@dataclass(frozen=True, eq=False)
class Transitions:
    """Which label may follow which, from the labels' prefixes and types."""

    allowed: np.ndarray    # bool [previous label, label]
    may_start: np.ndarray  # bool [label]: may open a sentence

    @cached_property
    def log_allowed(self) -> np.ndarray:
        """float [previous, label]: 0 where allowed, -inf where not (what Viterbi adds)."""
        return np.where(self.allowed, 0.0, -np.inf)

    @property
    def constrains(self) -> bool:
        """Whether any sequence is forbidden (a scheme of B and O labels alone has none)."""
        return not bool(self.may_start.all())


def transitions(prefixes, type_of: np.ndarray) -> Transitions:
    """Transitions for labels with these BIO `prefixes` ("B", "I", "E", "S", "", ...) and
    canonical type indexes `type_of` (-1 for O or a dropped label): a continuation label
    (I, E, L, M) only after an open label (B, I, M, or an unprefixed IO label) of its type.
    A type with no label that starts an entity (B, S, U or unprefixed: IOB1, whose "I-" starts
    an entity and "B-" only parts two adjacent ones) is not constrained."""
    prefixes = list(prefixes)
    starters = {int(t) for p, t in zip(prefixes, type_of) if p in ("B", "S", "U", "")}
    continues = np.array([p in ("I", "E", "L", "M") and int(t) in starters
                          for p, t in zip(prefixes, type_of)], bool)
    opens = np.array([p in ("B", "I", "M", "") for p in prefixes], bool) & (type_of >= 0)
    same_type = (type_of[:, None] == type_of[None, :]) & (type_of[:, None] >= 0)
    allowed = ~continues[None, :] | (opens[:, None] & same_type)
    return Transitions(allowed, ~continues)


def violations(labels: np.ndarray, rules: Transitions) -> bool:
    """Whether the label sequence `labels` (int) has a forbidden transition."""
    if len(labels) == 0:
        return False
    return bool(~rules.may_start[labels[0]] or (~rules.allowed[labels[:-1], labels[1:]]).any())


def best_sequence(probs: np.ndarray, rules: Transitions) -> np.ndarray:
    """The allowed label sequence (int [n]) with the highest summed log probability over the
    rows of `probs` (float [n words, n labels]); ties go to the lower label id."""
    n = len(probs)
    if n == 0:
        return np.zeros(0, np.int64)
    logp = np.log(np.maximum(probs.astype(np.float64), FLOOR))
    score = np.where(rules.may_start, logp[0], -np.inf)
    back = np.zeros((n, probs.shape[1]), np.int64)
    for t in range(1, n):
        candidates = score[:, None] + rules.log_allowed
        back[t] = candidates.argmax(0)
        score = candidates[back[t], np.arange(probs.shape[1])] + logp[t]
    out = np.empty(n, np.int64)
    out[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        out[t - 1] = back[t, out[t]]
    return out


def constrained_labels(labels: np.ndarray, probs: np.ndarray, rules: Transitions) -> np.ndarray:
    """`labels` (each word's most probable label) if allowed, else `best_sequence(probs)`."""
    if not violations(labels, rules):
        return labels
    return best_sequence(probs, rules)
