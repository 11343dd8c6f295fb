"""Mentions no corpus would annotate, dropped after decoding: a span with no letter.

The tagger labels words, and BERT's tokenizer makes words of the numbers inside names
("MDA-MB-468", "compound 12909"), so a number alone is sometimes tagged. The corpora litmine
trains on almost never annotate a gene, chemical, disease, species or variant without a letter:
3 of the 71,771 such mentions in their PubTator files (S800's "9715" and "871", GNormPlus'
"55.11"; none in BioRED, BC5CDR or NCBI-disease), while BioID annotates the cell line "293"
(HEK 293) 87 times, so cell lines keep theirs.
"""

from __future__ import annotations

#: Types whose mentions may have no letter (BioID's "293").
LETTERLESS_TYPES = frozenset({"CellLine"})


def is_plausible(text: str, entity_type: str) -> bool:
    """Whether a decoded mention of `entity_type` could be an annotation (see the module)."""
    return entity_type in LETTERLESS_TYPES or any(c.isalpha() for c in text)
