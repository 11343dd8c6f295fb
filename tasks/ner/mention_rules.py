"""What the corpora say of decoded mentions: a span with no letter is dropped, and a "variant"
that is a cell line's name in shape and no variant in form is a cell line.

The tagger labels words, and BERT's tokenizer makes words of the numbers inside names
("MDA-MB-468", "compound 12909"), so a number alone is sometimes tagged. The corpora litmine
trains on almost never annotate a gene, chemical, disease, species or variant without a letter:
3 of the 71,771 such mentions in their PubTator files (S800's "9715" and "871", GNormPlus'
"55.11"; none in BioRED, BC5CDR or NCBI-disease), while BioID annotates the cell line "293"
(HEK 293) 87 times, so cell lines keep theirs.

Cell lines are named as variants are written, letters then digits ("U87MG", "HEK293"), and the
tagger mixes the two up. Of the training files' mentions shaped like that (`CELL_LINE_SHAPE`;
BioRED, tmVar3, BioID, GNormPlus and NLM-Gene train without the held-out PMIDs), 1,686 cell lines
and 1 variant ("Tdel219") are no variant to tmVar's rules (`normalise_variant`), while 298
variants and 161 cell lines ("A549", "H1299") parse as one. So a Variant mention of that shape
that does not parse is taken as a CellLine (`decoded_type`); one that parses stays a Variant.
"""

from __future__ import annotations

import re

from litmine.tasks.linking.variants import normalise_variant

#: Types whose mentions may have no letter (BioID's "293").
LETTERLESS_TYPES = frozenset({"CellLine"})


def is_plausible(text: str, entity_type: str) -> bool:
    """Whether a decoded mention of `entity_type` could be an annotation (see the module)."""
    return entity_type in LETTERLESS_TYPES or any(c.isalpha() for c in text)


#: A cell line's name in shape: a capital, up to 5 letters, an optional hyphen, digits, then up
#: to 4 letters and digits ("U87MG", "HEK293T", "ARPE-19", "H9c2").
CELL_LINE_SHAPE = re.compile(r"^[A-Z][A-Za-z]{0,5}-?\d+[A-Za-z]{0,4}\d*$")


def decoded_type(text: str, entity_type: str) -> str:
    """`entity_type`, or CellLine for a Variant mention shaped like a cell line's name that
    tmVar's rules read as no variant (see the module)."""
    if (entity_type == "Variant" and CELL_LINE_SHAPE.match(text)
            and not normalise_variant(text)[0]):
        return "CellLine"
    return entity_type
