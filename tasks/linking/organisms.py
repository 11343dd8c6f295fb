"""Which organism a gene mention is of: the species its document names, then how it is written.

A gene name with IDs in several organisms takes the ID of the organism the document mentions
most (GNormPlus' species assignment: Wei et al. 2015, "GNormPlus: an integrative approach for
tagging genes, gene families, and protein domains", BioMed Res Int), then of the next, and so
on (`named_taxa`, `choose_taxon`); an organism named in the gene mention's own sentence comes
before all of them (`sentence_taxa`: SR4GN's and GNormPlus' first rule, "the species in the
same sentence"; Wei et al. 2012, "SR4GN: a species recognition software tool for gene
normalization", PLoS ONE). When the document names none of the organisms the name
has an ID in, human is the default, unless the mention is written the way mouse and rat gene
symbols are: a capital, then lowercase letters and digits ("Sox2", "Nanog", "Ctr9"), where
human symbols are all capitals ("SOX2"; HGNC: Bruford et al. 2020, "Guidelines for human gene
nomenclature", Nat Genet 52:754; mouse: the MGI/International Committee on Standardized Genetic
Nomenclature for Mice rules, which RGD follows for rat). Then mouse comes before human
(`gene_taxa`). Measured on gold gene mentions (`benchmarks/gene_linking_errors.py`): BioRED dev
(the selection set) concept F1 74.39 -> 77.66; NLM-Gene's training set without the held-out
PMIDs 61.21 -> 64.30. The sentence's organism first, with gold mentions
(`benchmarks/gene_species.py`): BioRED train without the held-out PMIDs (where it was chosen)
Gene concept F1 82.69 -> 84.36, the gene slots of its gold relations that get the right ID
2,344 -> 2,445 of 3,078; BioRED dev 79.56 -> 79.95, 633 -> 641 of 837.

An organism named as the host of a xenograft ("nude mice", "athymic mice", "NOD/SCID mice") is
not the genes' organism: the genes studied are the grafted human cells' (`xenograft_host`).
Leaving such mentions out, chosen the same way: BioRED train 84.36 -> 87.52, gene slots
2,445 -> 2,599; BioRED dev has no such mention (79.95, 641).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from litmine.tasks.linking.name_tables import HUMAN

#: NCBI Taxonomy ID of mouse, tried before human (the default) for mouse-style symbols.
MOUSE = "10090"
#: A gene written as mouse and rat symbols are: a capital, then lowercase letters and digits.
MOUSE_STYLE = re.compile(r"^[A-Z][a-z]+[a-z0-9]*$")
#: Words right before a Species mention that name it as the host of a xenograft.
XENOGRAFT_HOST = re.compile(r"\b(?:nude|athymic|SCID|immunodeficient|xenograft(?:ed)?|NOD)\W*$",
                            re.IGNORECASE)
#: How many characters before a Species mention `XENOGRAFT_HOST` reads.
HOST_WINDOW = 25


class TaxonLookup(Protocol):
    def taxon(self, concept_id: str) -> str: ...


def named_taxa(mentions: Sequence, links: Sequence) -> list[str]:
    """The organisms a document's Species mentions link to, most-mentioned first (ties: the
    smaller taxon ID)."""
    counts = Counter(link.concept_id for m, link in zip(mentions, links)
                     if m.type == "Species" and link.concept_id)
    return sorted(counts, key=lambda t: (-counts[t], int(t) if t.isdigit() else 0, t))


def xenograft_host(text: str, mention) -> bool:
    """Whether a Species mention is named as the host of a xenograft ("nude mice")."""
    return XENOGRAFT_HOST.search(text[max(0, mention.start - HOST_WINDOW):mention.start]) is not None


def gene_organism_mentions(text: str, mentions: Sequence, links: Sequence
                           ) -> tuple[list, list]:
    """The Species mentions (and their links) that say which organism a document's genes are
    of: all but the hosts of xenografts."""
    kept = [(m, link) for m, link in zip(mentions, links)
            if m.type == "Species" and not xenograft_host(text, m)]
    return [m for m, _ in kept], [link for _, link in kept]


def sentence_taxa(mentions: Sequence, links: Sequence, starts: Sequence[int]) -> list[list[str]]:
    """For each sentence (by their sorted start offsets), the organisms its Species mentions
    link to, most-mentioned first (ties as `named_taxa`)."""
    counts: list[Counter] = [Counter() for _ in starts]
    for m, link in zip(mentions, links):
        if m.type == "Species" and link.concept_id and starts:
            counts[sentence_of(m.start, starts)][link.concept_id] += 1
    return [sorted(c, key=lambda t: (-c[t], int(t) if t.isdigit() else 0, t)) for c in counts]


def sentence_of(offset: int, starts: Sequence[int]) -> int:
    """The index of the sentence (by their sorted start offsets) that an offset falls in; the
    first for an offset before all."""
    return max(bisect_right(starts, offset) - 1, 0)


def gene_taxa(text: str, named: Sequence[str], in_sentence: Sequence[str] = ()) -> list[str]:
    """The organisms `choose_taxon` tries for a gene mention written `text`: those its sentence
    names (`in_sentence`), the document's (`named`), then mouse if the mention is written in
    mouse style and the document names no human, then human."""
    mouse_first = HUMAN not in named and MOUSE_STYLE.match(text) is not None
    return list(dict.fromkeys([*in_sentence, *named, *([MOUSE] if mouse_first else []), HUMAN]))


def choose_taxon(link, taxa: Sequence[str], linker: TaxonLookup):
    """A gene link moved to the ID of the first organism in `taxa` that its name has one in.

    Only to another organism (an ID of the first organism in `taxa` that has one stays); the
    method becomes ``species``. A corpus ID of an organism the lexicon does not know (NLM-Gene
    writes none; "DMC1" as Arabidopsis') moves too: on BioRED train, linked with a lexicon that
    never saw its names, Gene concept F1 72.98 -> 73.71 (keeping such IDs where the document
    names no organism of the name: 73.56; docs/relations.md).
    """
    if not link.alternatives:
        return link
    current = linker.taxon(link.concept_id)
    ids = dict(link.alternatives)
    for taxon in taxa:
        if taxon == current:  # already the document's organism: the name's own ID stands
            return link
        if taxon in ids:  # another organism's ID (an ID's organism is its taxon in `ids`)
            return replace(link, concept_id=ids[taxon], method="species",
                           matched=f"{link.matched} (taxon {taxon})")
    return link
