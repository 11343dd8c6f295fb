"""Other spellings of a disease mention that no lexicon name matched, tried before the fuzzy level.

Sieve-based normalisation (D'Souza and Ng 2015, "Sieve-based entity linking for the biomedical
domain", ACL-IJCNLP): when a mention matches no name, rewrite it the ways disease names vary and
look again. Three rewrites, most conservative first (`disease_rewrites`):

1. parenthesised asides and leading modifiers dropped: "inherited factor V (FV) deficiency" ->
   "factor V deficiency", "bilateral adrenal hyperplasia" -> "adrenal hyperplasia"
   (`MODIFIERS`: words of inheritance, severity, course and extent that MeSH leaves out of most
   names; a judgement list drawn from BioRED dev's unlinked gold mentions);
2. an organ adjective as its noun, and back ("renal injury" -> "kidney injury", as MeSH names
   "Kidney Diseases"; `ORGAN_WORDS`);
3. the head word's synonym ("eye malformation" -> "eye abnormality", "lung tumours" -> "lung
   neoplasms"; `HEAD_SYNONYMS`: D'Souza and Ng's disorder-synonym sieve).

Measured on gold Disease mentions (`benchmarks/linking_concepts.py`, concept F1, BioRED dev the
selection set, the others as they fell): BioRED dev 84.38 -> 85.76, BC5CDR dev 88.83 -> 89.26,
NCBI-disease dev 79.42 -> 81.00.
"""

from __future__ import annotations

import itertools
import re

#: Leading words dropped by the first rewrite.
MODIFIERS = frozenset({
    "inherited", "congenital", "hereditary", "familial", "sporadic", "idiopathic", "primary",
    "severe", "mild", "acute", "chronic", "early", "late", "transient", "persistent",
    "recurrent", "progressive", "isolated", "bilateral", "benign", "toxic", "human",
})
#: Organ adjectives and nouns, either way round (MeSH names organs by the noun: "Kidney
#: Diseases", "Heart Failure"; abstracts often by the adjective).
ORGAN_WORDS = {
    "renal": "kidney", "kidney": "renal", "cardiac": "heart", "heart": "cardiac",
    "myocardial": "heart", "hepatic": "liver", "liver": "hepatic", "pulmonary": "lung",
    "lung": "pulmonary", "gastric": "stomach", "cerebral": "brain", "neural": "nerve",
    "ocular": "eye", "cutaneous": "skin", "dermal": "skin", "intestinal": "intestine",
    "vascular": "vessel", "thyroidal": "thyroid",
}
#: A name's last word and the word MeSH uses for it (singular; plurals are matched singular by
#: the normalised level).
HEAD_SYNONYMS = {
    "malformation": "abnormality", "anomaly": "abnormality", "defect": "abnormality",
    "disorder": "disease", "disease": "disorder", "lesion": "disease", "dysfunction": "disease",
    "impairment": "disorder", "damage": "injury", "injury": "damage", "tumour": "neoplasm",
    "tumor": "neoplasm", "cancer": "neoplasm", "failure": "insufficiency",
    "insufficiency": "failure",
}
#: At most this many rewrites of one mention (the organ and head choices multiply).
MAX_REWRITES = 16

_ASIDE = re.compile(r"\s*\([^()]*\)")


def _singular(word: str) -> str:
    """"malformations" -> "malformation", "injuries" -> "injury": a dictionary form for the
    tables' keys. (normalise.py's singular builds lookup keys, where "diseases" -> "diseas" is
    fine on both sides; here the word must meet the table's "disease".)"""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def disease_rewrites(text: str) -> list[str]:
    """Spellings of `text` to look up, in order, without `text` itself (empty when there is
    nothing to rewrite)."""
    words = _ASIDE.sub("", text).split()
    while len(words) > 1 and words[0].lower() in MODIFIERS:
        words = words[1:]
    choices = []
    for i, word in enumerate(words):
        low = word.lower()
        options = [word]
        if low in ORGAN_WORDS:
            options.append(ORGAN_WORDS[low])
        if i == len(words) - 1 and _singular(low) in HEAD_SYNONYMS:
            options.append(HEAD_SYNONYMS[_singular(low)])
        choices.append(options)
    out = dict.fromkeys(" ".join(c) for c in itertools.islice(itertools.product(*choices),
                                                              MAX_REWRITES))
    out.pop(text, None)
    return [t for t in out if t]
