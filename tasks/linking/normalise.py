"""Link mentions to concept IDs with a lexicon (entity normalisation).

Chemical and Disease link to MeSH, Gene to NCBI Gene, Species to NCBI Taxonomy, CellLine to
Cellosaurus (`lexicon.LINKED_TYPES`); a Variant's text is parsed into tmVar's normalised form by
`litmine.tasks.linking.variants.normalise_variant` (status ``variant-rule``), and a form that
the lexicon's corpora give one dbSNP rsID takes that rsID (``variant-rsid``: BioRED writes
rsIDs where dbSNP has the variant).

Levels, tried in order; the first that answers wins:

1. ``exact``: the mention text is a lexicon name of the mention's type.
2. ``normalised``: the same after `normalise_name` (Unicode NFKC, Greek letters spelt out,
   case-folded, British "ae"/"oe" spellings as American, "'s" dropped, punctuation and hyphens
   as spaces, each word singularised), then the same key without spaces ("beta-blocker" =
   "beta blocker" = "betablocker"), then its words sorted ("failure, renal"); for Gene, last,
   the key without spaces with each Greek letter as its initial (`gene_symbol_key`: "TNF-alpha"
   = "TNFA", "TGF-beta1" = "TGFB1", "IL-1 beta" = "IL1B"), as HGNC spells Greek letters in
   symbols (Bruford et al. 2020, "Guidelines for human gene nomenclature", Nat Genet 52:754).
   Gene and CellLine names are not singularised (a symbol's final "s" is no plural: TNFRS, CD28s), and
   a Gene mention of at most `SHORT_WORD` lowercase letters ("cat", "not") links only exactly,
   as a gene symbol and an English word differ by case ("CAT" is catalase); so does a mention of
   another type of at most `SHORT_ABBREVIATION` ("cc" is no "CC"), at every level.
3. ``composite`` (Chemical and Disease; Gene below): coordinated mentions ("renal and hepatic
   failure", "breast or ovarian cancer") are split into their parts (`split_composite`); when every part
   links, the IDs are "|"-joined as in BC5CDR. A Gene name with coordinated numbers ("ERK1/2",
   "caspase-3/7", "MMP-2 and -9", "Smad1/5/8", "ROCK-I/II") is split into one name per number
   (`split_numbered`) and, when every part links, takes every part's ID ("|"-joined; BioRED
   lists them: "ERK1/2" is MAPK3 and MAPK1) in one organism, also over a lexicon name whose ID
   is one of its parts' (a name of its own, "F4/80", stays; `litmine.tasks.linking.coordination`).
   Then ``rewritten`` (Disease only): the mention's rewrites by levels 1 and 2, modifiers
   dropped, organ adjectives as nouns, the head word's synonym ("inherited factor V deficiency",
   "renal injury", "eye malformation"; `litmine.tasks.linking.rewrites`).
4. ``fuzzy`` (Chemical, Disease only; a gene symbol one letter from another is another gene,
   and species and cell-line names are as short): cosine similarity of character 3-gram TF-IDF
   vectors (`FUZZY_NGRAM`, `litmine.tasks.linking.fuzzy`) of the normalised key against every
   name of the type, accepted at `FUZZY_THRESHOLD` or above.
5. ``dense`` (Disease, only when `Settings.dense_linker` names an encoder; off by default): the
   nearest lexicon name in a sentence encoder's space, at `DENSE_THRESHOLD` or above
   (`litmine.tasks.linking.dense`).

Mentions that a document defines as abbreviations take their long form's ID (``abbreviation``,
see `normalise_document`). A gene name with IDs in several organisms takes the one of the
organism its sentence mentions, else the document, or of mouse for a mouse-style symbol ("Sox2")
where it names none of them (``species``: `litmine.tasks.linking.organisms`). A mention that
nothing matches gets no ID and a reason.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from litmine.model_packages import locate_model
from litmine.settings import DEFAULT_LEXICON
from litmine.tasks.digests import sha256_file
from litmine.tasks.linking.coordination import split_composite, split_numbered
from litmine.tasks.linking.dense import DenseLevel, dense_encoder
from litmine.tasks.linking.fuzzy import NgramIndex
from litmine.tasks.linking.hashed_map import HashedMap
from litmine.tasks.linking.lexicon import LINKED_TYPES, MESH_TYPES, Lexicon, merge_ranked
from litmine.tasks.linking.name_tables import HUMAN
from litmine.tasks.linking.organisms import (
    choose_taxon,
    gene_organism_mentions,
    gene_taxa,
    named_taxa,
    sentence_of,
    sentence_taxa,
)
from litmine.tasks.linking.rewrites import disease_rewrites
from litmine.tasks.linking.variants import normalise_variant
from litmine.tasks.records import Mention
from litmine.tasks.text.abbreviations import Abbreviation, find_short_form_occurrences
from litmine.tasks.text.sentences import split_sentences

log = logging.getLogger(__name__)

#: Character n-gram size of the fuzzy matcher: trigram TF-IDF, as in scispaCy's entity linker
#: (Neumann et al. 2019, "ScispaCy: fast and robust models for biomedical NLP", BioNLP).
FUZZY_NGRAM = 3
#: Linked (text, type) pairs kept for reuse; the cache is emptied when it would grow past this.
CACHE_SIZE = 200_000
#: Cosine similarity accepted by the fuzzy level, chosen on BioRED's development set (the
#: project's selection set), gold mentions, 0.8-1.01: Chemical / Disease concept F1 89.89 / 83.56
#: at 0.8, 92.27 / 83.97 at 0.875, 92.27 / 84.01 at 0.9, 92.48 / 83.82 at 0.925, 92.00 / 84.18
#: with no fuzzy level; 0.9 is the middle of that plateau. BC5CDR dev, as it fell: 93.85 / 89.10
#: at 0.8, 93.88 / 88.73 at 0.9. (0.8 was the best of 0.6-0.95 on the last 150 BC5CDR training
#: documents, a lexicon built without them: micro 89.81 against 89.33 without the level.)
FUZZY_THRESHOLD = 0.9
#: Types that the composite and fuzzy levels serve (the MeSH types, where they were measured).
FUZZY_TYPES = MESH_TYPES
#: Types whose mentions are rewritten when nothing matched (`litmine.tasks.linking.rewrites`).
REWRITE_TYPES = ("Disease",)
#: Types whose words are singularised by the normalised level.
SINGULAR_TYPES = (*MESH_TYPES, "Species")
#: A Gene mention this short, all lowercase letters, links only exactly ("cat" vs "CAT").
SHORT_WORD = 4
#: A mention of another type this short, all lowercase letters, links only exactly: "cc" (a
#: unit) is not BC5CDR's abbreviation "CC" (clomiphene citrate, D002996).
SHORT_ABBREVIATION = 2
#: Types with the extra `gene_symbol_key` level.
SYMBOL_KEY_TYPES = ("Gene",)

GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu",
    "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau",
    "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}
_GREEK_RE = re.compile("|".join(GREEK))
#: Greek letters that gene symbols write as their initial (TNFA, TGFB1, IFNG, IL1B, PRKCD,
#: NFKB1, PPARG), spelt out as a word of a normalised name, optionally with digits ("beta1").
_GREEK_INITIAL = re.compile(r"^(alpha|beta|gamma|delta|epsilon|kappa)(\d*)$")
_POSSESSIVE = re.compile(r"['’`]s\b")
_NON_WORD = re.compile(r"[^a-z0-9]+")
#: Singular endings: -ies -> -y, -ses/-xes/-ches/-shes -> drop "es", else a final "s" unless the
#: word ends in ss/us/is (e.g. "mellitus", "psoriasis") or is short.
_KEEP_S = ("ss", "us", "is")


def _singular(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def normalise_name(text: str, singularise: bool = True) -> str:
    """The normalised key of a name (see the module docstring, level 2)."""
    s = unicodedata.normalize("NFKC", text)
    s = _GREEK_RE.sub(lambda m: " " + GREEK[m.group(0)] + " ", s.lower())
    s = _POSSESSIVE.sub("", s)
    s = s.replace("ae", "e").replace("oe", "e")
    words = [_singular(w) if singularise else w for w in _NON_WORD.split(s) if w]
    return " ".join(words)


def gene_symbol_key(norm: str) -> str:
    """A normalised gene name without spaces, each Greek letter after the first word as its
    initial ("tnf alpha" -> "tnfa", "tgf beta1" -> "tgfb1"; "tau" stays): the form of HGNC
    symbols (see the module docstring)."""
    words = norm.split()
    return "".join(words[:1] + [_GREEK_INITIAL.sub(lambda m: m.group(1)[0] + m.group(2), w)
                                for w in words[1:]])


@dataclass(frozen=True, slots=True)
class Link:
    """How a mention was linked: its ID ("" if none), the level, a score and a reason."""

    concept_id: str
    method: str  # exact, normalised, composite, fuzzy, abbreviation, none
    score: float = 1.0
    #: why there is no ID, "<status>: <detail>" (status: not-linked-type, empty, no-match,
    #: below-threshold with the best candidate)
    #: method "species": a gene ID chosen for the document's organism (`normalise_document`)
    reason: str = ""
    matched: str = ""  # the lexicon name that matched
    #: Gene: (taxon, ID) of each organism the normalised name has an ID in, for `choose_taxon`
    alternatives: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> str:
        """What the store's `entities.link_status` keeps: the level that found the ID, or the
        reason's status when there is none."""
        return self.method if self.concept_id else self.reason.split(":", 1)[0]


NO_LINK = Link("", "none", 0.0, "empty: empty mention")


class Linker:
    """Links (text, type) pairs with a lexicon; build once, reuse for every batch."""

    def __init__(self, lexicon: Lexicon, *, fuzzy_threshold: float = FUZZY_THRESHOLD,
                 types: Sequence[str] = LINKED_TYPES):
        self.fuzzy_threshold = fuzzy_threshold
        self.types = tuple(types)
        exact: dict[str, str] = {}
        taxa = {cid: taxon for (t, cid), taxon in lexicon.taxa.items() if t in self.types}
        # Plain dicts, not Counters: building 1.3 M Counters was most of the start-up time.
        keyed: list[dict[tuple[str, str], dict[str, float]]] = [{} for _ in range(4)]
        names: dict[tuple[str, str], str] = {}
        rsids: dict[str, str] = {}  # tmVar form -> the one dbSNP rsID the corpora give it
        for (type_, name), ids in lexicon.weights().items():
            if type_ == "Variant" and len(ids) == 1:  # forms given several rsIDs keep theirs
                rsids[name] = next(iter(ids))
            if type_ not in self.types:
                continue
            exact[_key(type_, name)] = _best(ids)
            norm = normalise_name(name, type_ in SINGULAR_TYPES)
            if not norm:
                continue
            for level, key in enumerate(_keys(norm, type_)):
                bucket = keyed[level].get((type_, key))
                if bucket is None:
                    keyed[level][(type_, key)] = dict(ids)
                else:
                    for cid, weight in ids.items():
                        bucket[cid] = bucket.get(cid, 0) + weight
            if type_ in FUZZY_TYPES:
                names.setdefault((type_, norm), name)
        #: The name tables as `HashedMap`s keyed by `_key(type, name or key)` (dicts of 1.4 M
        #: keys held 330 MB)
        self._exact = HashedMap(exact.items())
        self._keys = [HashedMap((_key(*k), _best(v)) for k, v in d.items()) for d in keyed]
        del exact, keyed
        self._taxa = HashedMap(taxa.items())
        self._rsids = HashedMap(rsids.items())
        #: (type, normalised key) -> ((taxon, best ID of that taxon), ...) for names with IDs in
        #: several organisms
        by_taxon: dict[str, tuple[tuple[str, str], ...]] = {}
        #: keyed by `gene_symbol_key` ("IL-6", "Il6" and "interleukin-6"'s organisms together),
        #: from every source (a name's default ID comes from its best-ranked source, but a lower
        #: one may be all that knows its mouse ortholog: `litmine.tasks.linking.orthologs`);
        #: each organism's ID from the best-ranked source that names one of that organism
        #: (best rank, then highest weight, then smallest ID, as `_best`)
        for (type_, key), ids in _symbol_keys(lexicon, self.types).items():
            per_taxon: dict[str, tuple[int, float, str]] = {}
            for cid, (rank, w) in ids.items():
                if (taxon := taxa.get(cid)) and (
                        taxon not in per_taxon or (rank, -w, cid) < per_taxon[taxon]):
                    per_taxon[taxon] = (rank, -w, cid)
            if len(per_taxon) > 1:
                by_taxon[_key(type_, key)] = tuple(sorted((t, best[2])
                                                          for t, best in per_taxon.items()))
        self._by_taxon = HashedMap(by_taxon.items())
        fuzzy_names: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for (type_, norm), name in names.items():
            fuzzy_names[type_].append((norm, name))
        #: type -> (the fuzzy level's index of its normalised names, (normalised, name) pairs);
        #: built here, so that it is pickled with the rest (`load_linker`'s cache)
        self._fuzzy = {type_: (NgramIndex([n for n, _ in entries], FUZZY_NGRAM), entries)
                       for type_, entries in fuzzy_names.items()}
        self._cache: dict[tuple[str, str], Link] = {}
        #: level 5, the mentions' nearest lexicon names by a sentence encoder
        #: (`litmine.tasks.linking.dense`), when attached (`load_linker` attaches the settings')
        self.dense: DenseLevel | None = None

    def attach_dense(self, dense: DenseLevel | None) -> None:
        """Use `dense` as the last level (None: none); cached links are forgotten."""
        self.dense = dense
        self._cache.clear()

    def _dense_names(self, type_: str) -> tuple[list[str], list[str]]:
        """The (names, IDs) that the dense level embeds for a type: one name per normalised
        form, as the fuzzy level has them."""
        _, entries = self._fuzzy.get(type_, (None, []))
        names, ids = [], []
        for norm, name in entries:
            if cid := self._keys[0].get(_key(type_, norm), ""):
                names.append(name)
                ids.append(cid)
        return names, ids

    def taxon(self, concept_id: str) -> str:
        """The NCBI Taxonomy ID of a (gene) concept, "" when the lexicon does not know it; of
        "|"-joined IDs, the one organism they all belong to, else ""."""
        taxa = {self._taxa.get(part, "") for part in concept_id.split("|")}
        return taxa.pop() if len(taxa) == 1 else ""

    def _lookup(self, text: str, type_: str) -> Link | None:
        """Levels 1 and 2 for one string."""
        norm = normalise_name(text, type_ in SINGULAR_TYPES)
        alternatives = self._by_taxon.get(_key(type_, gene_symbol_key(norm)), ())
        cid = self._exact.get(_key(type_, " ".join(text.split())))
        if cid:
            return Link(cid, "exact", 1.0, matched=text, alternatives=alternatives)
        if _exact_only(text, type_):
            return None
        for level, key in enumerate(_keys(norm, type_)):
            cid = self._keys[level].get(_key(type_, key))
            if cid:
                return Link(cid, "normalised", 1.0, matched=key, alternatives=alternatives)
        return None

    def _fuzzy_many(self, texts: Sequence[str], type_: str) -> list[tuple[str, float, str]]:
        """(concept ID or "", cosine, best name) for each text, by the fuzzy level."""
        if type_ not in self._fuzzy or not texts:
            return [("", 0.0, "")] * len(texts)
        index, entries = self._fuzzy[type_]
        out = []
        for k, sim in index.best([normalise_name(t, type_ in SINGULAR_TYPES) for t in texts]):
            if k < 0:
                out.append(("", 0.0, ""))
                continue
            norm, name = entries[k]
            out.append((self._keys[0].get(_key(type_, norm), ""), sim, name))
        return out

    def link_many(self, items: Sequence[tuple[str, str]]) -> list[Link]:
        """Link (text, type) pairs; the fuzzy level runs once per type for all that need it."""
        results: list[Link | None] = [None] * len(items)
        pending: dict[str, list[int]] = defaultdict(list)
        for i, (text, type_) in enumerate(items):
            cached = self._cache.get((text, type_))
            if cached is not None:
                results[i] = cached
            elif type_ == "Variant":
                cid, reason = normalise_variant(text)
                rsid = self._rsids.get(cid) if cid else None
                results[i] = (Link(rsid, "variant-rsid", 1.0, matched=cid) if rsid else
                              Link(cid, "variant-rule", 1.0, matched=text) if cid else
                              Link("", "none", 0.0, reason))
            elif type_ not in self.types:
                results[i] = Link("", "none", 0.0, f"not-linked-type: type {type_} is not linked")
            elif not text.strip():
                results[i] = NO_LINK
            else:
                found = ((self._gene(text) if type_ == "Gene" else self._lookup(text, type_))
                         or self._composite(text, type_)
                         or self._rewritten(text, type_))
                if found is not None:
                    results[i] = found
                elif _exact_only(text, type_):
                    results[i] = Link("", "none", 0.0, f"short-lowercase: {text!r} links only "
                                      "as written (a short lowercase word is not the symbol "
                                      "or abbreviation it spells in capitals)")
                elif type_ in FUZZY_TYPES:
                    pending[type_].append(i)
                else:
                    results[i] = Link("", "none", 0.0, f"no-match: no {type_} name in the "
                                      "lexicon matches exactly or normalised")
        for type_, indexes in pending.items():
            texts = [items[i][0] for i in indexes]
            for i, (cid, sim, name) in zip(indexes, self._fuzzy_many(texts, type_)):
                results[i] = (_scored(cid, sim, name, "fuzzy", self.fuzzy_threshold,
                                      f"best {name!r}")
                              or Link("", "none", 0.0, "no-match: no lexicon name shares a "
                                                       f"{FUZZY_NGRAM}-gram"))
            if self.dense is not None and type_ in self.dense.types:
                unlinked = [i for i in indexes if not results[i].concept_id]
                self._dense_many(self.dense, results, unlinked,
                                 [items[i][0] for i in unlinked], type_)
        if len(self._cache) + len(items) > CACHE_SIZE:  # bounded: a PubMed-long run stays flat
            self._cache.clear()
        for (text, type_), link in zip(items, results):
            self._cache[(text, type_)] = link
        return results  # type: ignore[return-value]

    def _dense_many(self, dense: DenseLevel, results: list, indexes: list[int],
                    texts: list[str], type_: str) -> None:
        """Level 5 for the mentions no other level linked: the nearest name's ID at or above
        the dense level's threshold; below it the reason names the nearest name."""
        for i, (cid, sim, name) in zip(indexes, dense.nearest(texts, type_,
                                                             lambda: self._dense_names(type_))):
            results[i] = _scored(cid, sim, name, "dense", dense.threshold,
                                 f"nearest {name!r} by {dense.encoder}") or results[i]

    def link(self, text: str, type_: str) -> Link:
        """Link one mention text of a type."""
        return self.link_many([(text, type_)])[0]

    def _rewritten(self, text: str, type_: str) -> Link | None:
        """Level 3b: a Disease mention's rewrites (`litmine.tasks.linking.rewrites`) by levels 1
        and 2, the first that matches."""
        if type_ not in REWRITE_TYPES:
            return None
        for rewrite in disease_rewrites(text):
            found = self._lookup(rewrite, type_)
            if found is not None:
                return Link(found.concept_id, "rewritten", 1.0, matched=rewrite)
        return None

    def _composite(self, text: str, type_: str) -> Link | None:
        parts = split_composite(text) if type_ in FUZZY_TYPES else []
        if not parts:
            return None
        ids = []
        for part in parts:
            found = self._lookup(part, type_) or self._rewritten(part, type_)
            if found is None:
                return None
            ids.extend(found.concept_id.split("|"))
        return Link("|".join(dict.fromkeys(ids)), "composite", 1.0, matched=" + ".join(parts))

    def _gene(self, text: str) -> Link | None:
        """Levels 1 and 2 for a Gene name, except that a name with coordinated numbers whose
        lexicon ID is one of its parts' ("ERK1/2": the corpora list both genes, the name table
        keeps one) takes every part's (`_numbered`); a name of its own ("F4/80") stays."""
        found, parts = self._lookup(text, "Gene"), self._numbered(text)
        if parts is None or found is None:
            return found or parts
        return parts if _ids(found) & _ids(parts) else found

    def _numbered(self, text: str) -> Link | None:
        """Level 3 for a Gene name with coordinated numbers (`split_numbered`): every part's ID,
        with, as alternatives, the joined IDs of each organism that every part has one in."""
        parts = split_numbered(text)
        found = [self._lookup(part, "Gene") for part in parts]
        if not parts or any(f is None for f in found):
            return None
        by_taxon = []
        for link in found:
            ids = dict(link.alternatives)
            if taxon := self.taxon(link.concept_id):
                ids.setdefault(taxon, link.concept_id)
            by_taxon.append(ids)
        shared = set.intersection(*(set(ids) for ids in by_taxon))
        joined = {t: "|".join(dict.fromkeys(ids[t] for ids in by_taxon)) for t in shared}
        concept_id = "|".join(dict.fromkeys(f.concept_id for f in found))
        if shared and not self.taxon(concept_id):  # parts of several organisms: one for all
            own = [self.taxon(f.concept_id) for f in found]
            concept_id = joined[max(sorted(shared), key=lambda t: (own.count(t), t == HUMAN))]
        return Link(concept_id, "composite", 1.0, matched=" + ".join(parts),
                    alternatives=tuple(sorted(joined.items())) if len(shared) > 1 else ())


def _scored(cid: str, sim: float, name: str, method: str, threshold: float,
            candidate: str) -> Link | None:
    """A similarity level's answer: the ID at or above `threshold`, else no ID with a reason
    naming the `candidate`; None when the level found no candidate."""
    if cid and sim >= threshold:
        return Link(cid, method, round(sim, 4), matched=name)
    if cid:
        return Link("", "none", round(sim, 4),
                    f"below-threshold: {candidate} ({sim:.2f} < {threshold})", matched=name)
    return None


def _ids(link: Link) -> set[str]:
    """Every ID a link names, in any organism."""
    return {i for cid in (link.concept_id, *(c for _, c in link.alternatives))
            for i in cid.split("|")}


def _exact_only(text: str, type_: str) -> bool:
    """Whether a mention links only exactly: at most `SHORT_WORD` (Gene) or
    `SHORT_ABBREVIATION` (other types) lowercase letters."""
    limit = SHORT_WORD if type_ == "Gene" else SHORT_ABBREVIATION
    return len(text) <= limit and text.isalpha() and text.islower()


def _key(type_: str, name: str) -> str:
    """A name table's key: the type, a tab, the name (names have no tabs: `_lookup` joins words
    with spaces and normalised keys are letters, digits and spaces)."""
    return f"{type_}\t{name}"


def _keys(norm: str, type_: str = "") -> tuple[str, ...]:
    """The level-2 keys of a normalised name: as is, without spaces, words sorted; for
    `SYMBOL_KEY_TYPES`, then `gene_symbol_key`."""
    keys = (norm, norm.replace(" ", ""), " ".join(sorted(norm.split())))
    return (*keys, gene_symbol_key(norm)) if type_ in SYMBOL_KEY_TYPES else keys


def _symbol_keys(lexicon: Lexicon, types: Sequence[str]
                 ) -> dict[tuple[str, str], dict[str, tuple[int, float]]]:
    """(type, `gene_symbol_key`) -> {ID: (best source rank, weight there)} over every source of
    the lexicon (`Lexicon.ranked_weights`), for the `SYMBOL_KEY_TYPES` among `types`."""
    out: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
    for type_ in [t for t in SYMBOL_KEY_TYPES if t in types]:
        for (_, name), ids in lexicon.ranked_weights(type_).items():
            norm = normalise_name(name, type_ in SINGULAR_TYPES)
            if not norm:
                continue
            bucket = out.setdefault((type_, gene_symbol_key(norm)), {})
            for cid, (rank, weight) in ids.items():
                merge_ranked(bucket, cid, rank, weight)
    return out


def _best(ids: Mapping[str, float]) -> str:
    """The ID with the highest weight (ties: the smallest ID, so results are reproducible)."""
    if len(ids) == 1:
        return next(iter(ids))
    return min(ids.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def normalise_document(text: str, mentions: Sequence[Mention], linker: Linker,
                       abbreviations: Iterable[Abbreviation] = (),
                       sentences: Sequence[tuple[int, int]] | None = None
                       ) -> tuple[list[Mention], list[Link]]:
    """Give each mention of a linked type in one document an ID (or none, with a reason).

    Mentions are linked by the levels in the module docstring; a gene name with IDs in several
    organisms takes the one of the organism its sentence mentions (`sentences`: (start, end)
    offsets, in order; by default `split_sentences` of `text`), else the document mentions most
    (hosts of xenografts aside), or of mouse for a mouse-style symbol in a document that names
    no organism of it (`litmine.tasks.linking.organisms`); then every short form that the document defines takes
    its long form's ID (the definition is more specific to the document than any lexicon entry
    for a two-letter string); a long form that found no ID takes the short form's when that was an exact or
    normalised match. Other types pass through.
    """
    links = linker.link_many([(m.text, m.type) for m in mentions])
    organisms = gene_organism_mentions(text, mentions, links)  # not a xenograft's host
    named = named_taxa(*organisms)
    if sentences is None and any(m.type == "Gene" for m in mentions):
        sentences = split_sentences(text)
    starts = [start for start, _ in sentences or ()]
    local = sentence_taxa(*organisms, starts)
    links = [choose_taxon(link, gene_taxa(m.text, named,
                                          local[sentence_of(m.start, starts)] if local else ()),
                          linker) if m.type == "Gene" else link
             for m, link in zip(mentions, links)]
    out = [replace(m, concept_id=link.concept_id) if m.type in linker.types or link.concept_id else m
           for m, link in zip(mentions, links)]
    links = list(links)
    for abbr in abbreviations:
        lf = [i for i, m in enumerate(out) if m.end == abbr.long_end and
              m.start >= abbr.long_start and m.type in linker.types]
        spans = set(find_short_form_occurrences(text, abbr.short))
        sf = [i for i, m in enumerate(out) if (m.start, m.end) in spans and m.type in linker.types]
        if not lf or not sf:
            continue
        i = max(lf, key=lambda k: out[k].end - out[k].start)
        if out[i].concept_id:
            for k in sf:
                if out[k].type == out[i].type:
                    out[k] = replace(out[k], concept_id=out[i].concept_id)
                    links[k] = Link(out[i].concept_id, "abbreviation", links[i].score,
                                    matched=abbr.long)
        else:
            direct = [k for k in sf if links[k].method in ("exact", "normalised", "species")]
            if direct:
                k = direct[0]
                out[i] = replace(out[i], concept_id=out[k].concept_id)
                links[i] = Link(out[k].concept_id, "abbreviation", links[k].score,
                                matched=abbr.short)
    return [replace(m, link_status=link.status) for m, link in zip(out, links)], links


_LINKERS: dict[str, Linker] = {}
_LINKERS_LOCK = threading.Lock()


#: Bump when the Linker's attributes change: cached linkers of another version are rebuilt.
LINKER_CACHE_VERSION = 8


def load_linker(lexicon: str | Path = DEFAULT_LEXICON) -> Linker:
    """A Linker over a saved lexicon, cached per path for the process and on disk, with the
    dense level of `Settings.dense_linker` attached (none when that is "none").

    Building one from the shipped lexicon takes about 20 s (604 k names, four key levels, the
    fuzzy level's n-gram indexes); the built Linker is pickled to `Settings.cache_dir` under the
    lexicon file's sha256, so later processes (each `litmine mine`, each Dask worker) load it,
    fuzzy indexes and all, in about two seconds. A cache file that
    cannot be read or written is rebuilt or skipped, never an error. The dense level embeds its
    names at its first use and caches them beside (`litmine.tasks.linking.dense`).
    """
    from litmine.settings import get_settings

    lexicon = locate_model(str(lexicon), "linking", "MeSH lexicon")  # a model's name -> its file
    key = str(Path(lexicon).resolve())
    with _LINKERS_LOCK:  # one load per lexicon, whichever thread asks first
        if key not in _LINKERS:
            linker, digest = _cached_linker(Path(lexicon))
            settings = get_settings()
            if encoder := dense_encoder(settings.dense_linker):
                linker.attach_dense(DenseLevel(encoder, cache_dir=settings.cache_dir,
                                               cache_key=digest))
            _LINKERS[key] = linker
        return _LINKERS[key]


def _cached_linker(lexicon: Path) -> tuple[Linker, str]:
    """The linker (from the disk cache when there) and the lexicon's sha256 ("" if unread)."""
    from litmine.settings import get_settings

    try:
        digest = sha256_file(lexicon)
    except OSError:
        return Linker(Lexicon.load(lexicon)), ""  # Lexicon.load names the missing file
    cache = get_settings().cache_dir / f"linker-{digest[:24]}-v{LINKER_CACHE_VERSION}.pkl"
    try:
        with open(cache, "rb") as handle:
            linker = pickle.load(handle)
        if isinstance(linker, Linker):
            return linker, digest
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        pass
    linker = Linker(Lexicon.load(lexicon))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            pickle.dump(linker, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, cache)  # atomic: a concurrent reader sees all of it or nothing
    except OSError as exc:
        log.warning("linker cache %s not written (%s); the next process builds it again", cache, exc)
    return linker, digest
