"""Model label names -> litmine's canonical entity types, and token labels -> entity spans.

Token-classification models name their labels in many ways (``B-Chemical``, ``B-CHEMICAL``,
``Chemical``, ``B-Disease_disorder``, ``GeneOrGeneProduct``...). `canonical_type` maps a label to
one of litmine's canonical types through `DEFAULT_LABEL_MAP`, which a user may override or extend
per run (``label_map={"DRUG": "Chemical", "Sign_symptom": None}``; ``None`` drops the label).

Lookup is case-insensitive and ignores ``_``, ``-`` and spaces inside the type name, so
``Gene_or_gene_product``, ``GeneOrGeneProduct`` and ``GENE-OR-GENE-PRODUCT`` are one key.
A label found in neither table is kept under its own name (``B-Foo`` -> ``Foo``), and a warning is
logged once per label per process, so that a new model never loses predictions silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from litmine.tasks.ner.viterbi import Transitions, constrained_labels, transitions

logger = logging.getLogger(__name__)


#: Model label (type part, without B-/I-) -> canonical type; None drops the label.
DEFAULT_LABEL_MAP: dict[str, str | None] = {
    # BC5CDR, BioCreative V CDR task (Li et al. 2016, Database baw068): Chemical, Disease.
    # Also HunFlair (Weber et al. 2021, Bioinformatics 37:2792) and HunFlair2 (Sänger et al.
    # 2024, Bioinformatics 40:btae564): Chemical, Disease, Gene, Species, CellLine.
    "Chemical": "Chemical",
    "Disease": "Disease",
    "Gene": "Gene",
    "Species": "Species",
    "CellLine": "CellLine",
    # NCBI-disease (Dogan et al. 2014, J Biomed Inform 47:1-10): four mention classes, all
    # diseases; the BioNLP benchmark versions of the corpus merge them into "Disease".
    "SpecificDisease": "Disease",
    "DiseaseClass": "Disease",
    "CompositeMention": "Disease",
    "Modifier": "Disease",
    # BioRED (Luo et al. 2022, Brief Bioinform 23:bbac282): six types.
    "ChemicalEntity": "Chemical",
    "DiseaseOrPhenotypicFeature": "Disease",
    "GeneOrGeneProduct": "Gene",
    "SequenceVariant": "Variant",
    "OrganismTaxon": "Species",
    # (BioRED's "CellLine" is above.)
    # d4data/biomedical-ner-all (DistilBERT on MACCROBAT2020; typing system of Caufield et al.
    # 2019, medRxiv 19009118): its config.json id2label has 84 labels, O and B-/I- of 41 clinical
    # types (B-Activity ... I-Weight) plus two garbled B- labels (read from a third-party copy of
    # that config; the hub is not reachable from the build machine). Four are entities:
    "Disease_disorder": "Disease",
    # MeSH, BC5CDR's vocabulary, files signs and symptoms under Diseases (tree C23), and BC5CDR
    # annotates them as Disease. Drop them with label_map={"Sign_symptom": None}.
    "Sign_symptom": "Disease",
    "Medication": "Chemical",
    "Biological_structure": "Anatomy",
    # BENT (Ruas et al. 2023, pruas/BENT-PubMedBERT-NER-*; lasigeBioTM/BENT bent/src/ner.py):
    # one model per type; type names as BENT spells them.
    "Organism": "Species",
    "Cell_line": "CellLine",
    "Cell_type": "CellType",
    "Variant": "Variant",
    "Anatomical": "Anatomy",
    # BioNLP 2013 Cancer Genetics (Pyysalo et al. 2015, BMC Bioinformatics 16:S2), e.g.
    # scispaCy's en_ner_bionlp13cg_md.
    "Gene_or_gene_product": "Gene",
    "Simple_chemical": "Chemical",
    "Cancer": "Disease",
    # JNLPBA (Collier & Kim 2004, NLPBA workshop): protein/DNA/RNA are gene products.
    "protein": "Gene",
    "DNA": "Gene",
    "RNA": "Gene",
    # (JNLPBA's cell_line/cell_type normalise to BENT's Cell_line/Cell_type above.)
    # BC2GM (Smith et al. 2008, Genome Biol 9:S2) and BC4CHEMD (Krallinger et al. 2015,
    # J Cheminform 7:S2) models: "GENE" / "CHEMICAL" (case-insensitive: above).
    # Drug corpora: DDI (Herrero-Zazo et al. 2013, J Biomed Inform 46:914): drug, drug_n, brand,
    # group; n2c2 2018 track 2 (Henry et al. 2020, JAMIA 27:3): Drug.
    "DRUG": "Chemical",
    "drug_n": "Chemical",
    "brand": "Chemical",
    "group": "Chemical",
    # tmVar (Wei et al. 2013, Bioinformatics 29:1433): variant mention classes.
    "DNAMutation": "Variant",
    "ProteinMutation": "Variant",
    "SNP": "Variant",
    # Not entities: "X" marks non-first sub-tokens in BERT-paper-style training data, and some
    # checkpoints (e.g. BioBERT NER ports) keep labels for the special tokens.
    "X": None,
    "[CLS]": None,
    "[SEP]": None,
    "[PAD]": None,
}

# d4data/biomedical-ner-all's other 37 types are clinical attributes, not entities litmine stores.
for _name in ("Activity", "Administration", "Age", "Area", "Biological_attribute", "Clinical_event",
              "Color", "Coreference", "Date", "Detailed_description", "Diagnostic_procedure",
              "Distance", "Dosage", "Duration", "Family_history", "Frequency", "Height", "History",
              "Lab_value", "Mass", "Nonbiological_location", "Occupation", "Other_entity",
              "Other_event", "Outcome", "Personal_background", "Qualitative_concept",
              "Quantitative_concept", "Severity", "Sex", "Shape", "Subject", "Texture",
              "Therapeutic_procedure", "Time", "Volume", "Weight",
              # the two garbled labels, verbatim
              "Non[biological](Detailed_description", "Personal_[back](Biological_structure"):
    DEFAULT_LABEL_MAP[_name] = None
del _name

#: Prefixes of the BIO family: IOB1/IOB2 (B, I), IOBES (E, S), BILOU (L, U), BMES (M).
_PREFIXES = frozenset("BIESLUM")
_KEY_JUNK = re.compile(r"[\s_\-]+")
_warned: set[str] = set()


def _key(name: str) -> str:
    return _KEY_JUNK.sub("", name).casefold()


_DEFAULT_KEYS = {_key(k): v for k, v in DEFAULT_LABEL_MAP.items()}


def split_bio(label: str) -> tuple[str, str]:
    """Split a label into (prefix, type): ``"B-Chemical"`` -> ``("B", "Chemical")``.

    ``"O"`` gives ``("O", "")``; a label without prefix (IO scheme, ``"Chemical"``) gives
    ``("", "Chemical")``. ``-`` and ``_`` are both accepted after the prefix (``B_DRUG``).
    """
    label = label.strip()
    if label in ("O", "o", ""):
        return "O", ""
    if len(label) > 2 and label[0].upper() in _PREFIXES and label[1] in "-_":
        return label[0].upper(), label[2:]
    return "", label


def canonical_type(label: str, label_map: Mapping[str, str | None] | None = None) -> str | None:
    """The canonical type of a model label (``"B-CHEMICAL"`` -> ``"Chemical"``); None to drop it.

    `label_map` entries win over `DEFAULT_LABEL_MAP`; they may name a full label (``"B-DRUG"``)
    or a type (``"DRUG"``). Unknown labels keep their own type name (warned once).
    """
    prefix, name = split_bio(label)
    if prefix == "O":
        return None
    if label_map:
        for candidate in (label, name):
            if candidate in label_map:
                return label_map[candidate]
        user_keys = {_key(k): v for k, v in label_map.items()}
        if _key(name) in user_keys:
            return user_keys[_key(name)]
    key = _key(name)
    if key in _DEFAULT_KEYS:
        return _DEFAULT_KEYS[key]
    if name not in _warned:
        _warned.add(name)
        logger.warning(
            "NER: model label %r has no canonical type; keeping it as %r. Map it with "
            "label_map={%r: 'Chemical'} (or None to drop it).", label, name, name)
    return name


def decode_entities(
    text: str,
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    labels: Sequence[str],
    type_probs: Mapping[str, Sequence[float]] | None = None,
    label_map: Mapping[str, str | None] | None = None,
) -> list[tuple[int, int, str, float]]:
    """Entity spans ``(start, end, type, score)`` from per-token labels and character offsets.

    Tokens sharing a word id form a word, which takes the label of its first sub-token (as in
    BERT's NER fine-tuning, Devlin et al. 2019 sec. 5.3), so an entity never ends inside a word.
    BIO with tolerance: B/S/U start an entity; I/E/L/M (or no prefix) continue one of the same
    type or else start one; E/L/S/U close it; O, a dropped label and a word-less token close it.
    `type_probs[type][i]` is token i's probability of the type (summed over B-/I-...); the score
    is its mean over the first sub-tokens of the entity's words, the tokens that decided it (the
    others are untrained noise in models fine-tuned like HF's run_ner.py, label_all_tokens=False);
    1.0 without `type_probs`. Offsets index `text`; spans never start or end with whitespace.
    """
    spans: list[tuple[int, int, str, float]] = []
    current: list | None = None  # [start, end, type, indexes of the words' first tokens]
    resolved: dict[str, tuple[str, str | None]] = {}  # label -> (prefix, canonical type)

    def close() -> None:
        nonlocal current
        if current is not None:
            start, end, etype, firsts = current
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                probs = type_probs.get(etype) if type_probs is not None else None
                score = sum(probs[i] for i in firsts) / len(firsts) if probs is not None else 1.0
                spans.append((start, end, etype, float(score)))
        current = None

    n = len(labels)
    i = 0
    while i < n:
        word = word_ids[i]
        j = i + 1
        if word is not None:
            while j < n and word_ids[j] == word:
                j += 1
        toks = [k for k in range(i, j) if offsets[k][1] > offsets[k][0]]
        label = labels[i]
        if label not in resolved:
            resolved[label] = (split_bio(label)[0], canonical_type(label, label_map))
        prefix, etype = resolved[label]
        if word is None or not toks or etype is None:
            close()
            i = j
            continue
        start, end = offsets[toks[0]][0], max(offsets[k][1] for k in toks)
        if prefix in ("B", "S", "U") or current is None or current[2] != etype:
            close()
            current = [start, end, etype, [i]]
        else:
            current[1] = end
            current[3].append(i)
        if prefix in ("E", "L", "S", "U"):
            close()
        i = j
    close()
    return spans


# --- vectorised decoding (what the engine runs) -----------------------------------------------

#: Decoding policies of `decode_spans`: "viterbi" (words, the best label sequence the scheme
#: allows; the default), "first" (words, each its own best label: `decode_entities`'s rules) and
#: "simple" (sub-tokens, transformers' TokenClassificationPipeline, aggregation_strategy="simple").
AGGREGATIONS = ("viterbi", "first", "simple")
#: The engine's decoding policy when none is named.
DEFAULT_AGGREGATION = "viterbi"


@dataclass(frozen=True, eq=False)
class LabelTable:
    """A model's labels compiled for `decode_spans`: one array entry per label id."""

    labels: tuple[str, ...]
    types: tuple[str, ...]       # canonical types, in label order
    type_of: np.ndarray          # label id -> index into `types`; -1: O or dropped
    begins: np.ndarray           # label id -> prefix B, S or U (always starts an entity)
    ends: np.ndarray             # label id -> prefix E, L, S or U (closes the entity)
    type_columns: np.ndarray     # float32 [n_labels, n_types]: 1 where a label is of the type
    pipe_tag: np.ndarray         # "simple": label id -> index into `pipe_types`; -1 for "O"
    pipe_begins: np.ndarray      # "simple": the label starts with "B-"
    pipe_types: tuple[str | None, ...]  # "simple": canonical type of each pipeline tag
    rules: Transitions           # "viterbi": which label may follow which


def compile_labels(labels: Sequence[str],
                   label_map: Mapping[str, str | None] | None = None) -> LabelTable:
    """Compile a model's labels (id order) with the label map into lookup arrays."""
    canon = [canonical_type(label, label_map) for label in labels]
    types = tuple(dict.fromkeys(t for t in canon if t))
    prefixes = [split_bio(label)[0] for label in labels]
    columns = np.zeros((len(labels), len(types)), np.float32)
    for i, t in enumerate(canon):
        if t:
            columns[i, types.index(t)] = 1.0
    # transformers' TokenClassificationPipeline.get_tag: "B-x"/"I-x" -> x, anything else is
    # its own tag, continued like "I-"; groups tagged "O" are dropped (ignore_labels=["O"]).
    tags = [label[2:] if label.startswith(("B-", "I-")) else label for label in labels]
    pipe_names = list(dict.fromkeys(t for t in tags if t != "O"))
    return LabelTable(
        labels=tuple(labels), types=types,
        type_of=np.array([types.index(t) if t else -1 for t in canon], np.int64),
        begins=np.array([p in ("B", "S", "U") for p in prefixes], bool),
        ends=np.array([p in ("E", "L", "S", "U") for p in prefixes], bool),
        type_columns=columns,
        pipe_tag=np.array([pipe_names.index(t) if t != "O" else -1 for t in tags], np.int64),
        pipe_begins=np.array([label.startswith("B-") for label in labels], bool),
        pipe_types=tuple(canonical_type(t, label_map) for t in pipe_names),
        rules=transitions(prefixes, np.array([types.index(t) if t else -1 for t in canon],
                                             np.int64)),
    )


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def decode_spans(text: str, offsets: np.ndarray, word_ids: np.ndarray, probs: np.ndarray,
                 table: LabelTable, aggregation: str = DEFAULT_AGGREGATION
                 ) -> list[tuple[int, int, str, float]]:
    """Entity spans ``(start, end, type, score)`` from token label probabilities, in numpy.

    `offsets` is int [n, 2] (character offsets into `text`), `word_ids` int [n] (-1 for a token
    of no word), `probs` float [n, n_labels]. Each token's label is its most probable one.

    "first" gives exactly `decode_entities`'s spans and scores (tested against it), touching in
    Python only the words that are entities. "viterbi" decodes the same way after replacing the
    words' labels, when they form a sequence the scheme forbids ("I-Gene" after "O"), by the
    most probable sequence it allows (`litmine.tasks.ner.viterbi`; scores from the same
    probabilities). On BioRED dev it gained 1.05 points of micro F1 over "first".

    "simple" reproduces transformers' TokenClassificationPipeline(aggregation_strategy="simple")
    (pipelines/token_classification.py, `aggregate` + `group_entities`): sub-tokens, not words,
    are labelled, so an entity may start or end inside a word; neighbours of the same tag merge
    unless the next one is "B-"; the span runs from the first token's start to the last one's
    end; the score is the mean of the tokens' top probabilities. Spans are trimmed of
    whitespace; empty ones are dropped.
    """
    n = len(offsets)
    if n == 0:
        return []
    labels = probs.argmax(1)
    if aggregation == "simple":
        return _decode_simple(text, offsets, labels, probs, table)
    if aggregation not in ("first", "viterbi"):
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    word_ids = np.asarray(word_ids)
    new_word = np.ones(n, bool)
    new_word[1:] = (word_ids[1:] != word_ids[:-1]) | (word_ids[1:] < 0)
    firsts = np.flatnonzero(new_word)  # each word's first token
    word_label = labels[firsts]
    if aggregation == "viterbi":
        word_label = _constrained(word_label, probs[firsts], word_ids[firsts] >= 0, table.rules)
    wtype = table.type_of[word_label].copy()
    nonempty = offsets[:, 1] > offsets[:, 0]
    big = np.iinfo(np.int64).max
    first_nonempty = np.minimum.reduceat(np.where(nonempty, np.arange(n), big), firsts)
    wtype[(first_nonempty == big) | (word_ids[firsts] < 0)] = -1
    entity = wtype >= 0
    if not entity.any():
        return []
    word_end = np.maximum.reduceat(np.where(nonempty, offsets[:, 1], -1), firsts)
    prev_type = np.r_[-1, wtype[:-1]]
    prev_ends = np.r_[True, table.ends[word_label[:-1]]]
    starts = entity & (table.begins[word_label] | (prev_type != wtype) | prev_ends)
    words = np.flatnonzero(entity)  # groups of consecutive entity words, each from a start
    group_first = np.flatnonzero(starts[words])
    group_last = np.r_[group_first[1:], len(words)] - 1
    word_type = wtype[words]
    values = probs[firsts[words]] @ table.type_columns  # [entity words, n_types]
    values = values[np.arange(len(words)), word_type]
    means = np.add.reduceat(values, group_first) / (group_last - group_first + 1)
    spans = []
    for g, (a, b) in enumerate(zip(group_first, group_last)):
        w = words[a]
        start, end = _trimmed(text, int(offsets[first_nonempty[w], 0]), int(word_end[words[b]]))
        if end > start:
            spans.append((start, end, table.types[word_type[a]], float(means[g])))
    return spans


def _constrained(word_label: np.ndarray, word_probs: np.ndarray, is_word: np.ndarray,
                 rules: Transitions) -> np.ndarray:
    """The words' labels made an allowed sequence within each run of real words (a token of no
    word, [CLS] or [SEP], closes an entity anyway)."""
    if not rules.constrains:
        return word_label
    out = word_label.copy()
    edges = np.flatnonzero(np.diff(np.r_[0, is_word.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2]):
        out[a:b] = constrained_labels(word_label[a:b], word_probs[a:b], rules)
    return out


def _decode_simple(text, offsets, labels, probs, table) -> list[tuple[int, int, str, float]]:
    n = len(labels)
    tag = table.pipe_tag[labels]
    starts = np.ones(n, bool)
    starts[1:] = table.pipe_begins[labels[1:]] | (tag[1:] != tag[:-1])
    group_first = np.flatnonzero(starts)
    keep = tag[group_first] >= 0
    if not keep.any():
        return []
    group_last = np.r_[group_first[1:], n] - 1
    top = probs[np.arange(n), labels]
    means = np.add.reduceat(top, group_first) / (group_last - group_first + 1)
    spans = []
    for g in np.flatnonzero(keep):
        etype = table.pipe_types[tag[group_first[g]]]
        if etype is None:
            continue
        start, end = _trimmed(text, int(offsets[group_first[g], 0]),
                              int(offsets[group_last[g], 1]))
        if end > start:
            spans.append((start, end, etype, float(means[g])))
    return spans
