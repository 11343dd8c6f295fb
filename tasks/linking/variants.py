"""Normalise sequence-variant mentions to the IDs tmVar and BioRED write.

The target is tmVar's normalised form (Wei et al., "tmVar 3.0", Bioinformatics 2022; the
SequenceVariant IDs of BioRED, Luo et al., Briefings in Bioinformatics 2022):

    <seq>|<type>|<fields...>

with ``seq`` one of ``c`` (coding DNA, tmVar's default for DNA), ``g``, ``m``, ``r``, ``n`` or ``p``
(protein), and ``type`` one of:

- ``SUB``:    ``c|SUB|T|1799|A``, ``p|SUB|V|600|E`` (ref|position|alt, amino acids as one letter,
              stop written ``X``); prose without a position keeps it empty: ``p|SUB|L||M``.
- ``DEL``:    ``c|DEL|4153|A``, ``g|DEL|3455_3460|``, ``p|DEL|239|V``; a deletion given by size only
              keeps the size: ``c|DEL||22``, ``c|DEL||3.5K`` (kb -> K, Mb -> M).
- ``INS``:    ``c|INS|5382|C``, ``c|INS|2172_2173|CCCC``, ``c|INS||137`` (size only).
- ``INDEL``:  ``p|INDEL|46_48|Glu`` (delins keeps the inserted sequence as written), ``c|INDEL||14``.
- ``DUP``:    ``c|DUP|429_452||``, ``c|DUP||24|`` (``dup24bp``), ``c|DUP||CCTTT|14`` (repeats).
- ``FS``:     ``p|FS|G|204|V|28`` (ref|position|alt|length of the new frame), ``p|FS|R|58||``.
- ``Allele``: ``p|Allele|R|70``, ``c|Allele|A|202``, ``p|Allele|X|573``.
- rsIDs keep their ID: ``rs113488022``.

Rules are regular expressions tried in order on the whole mention (after unifying arrows, dashes
and spaces); the first that matches builds the ID. Coverage was chosen from the variant mentions of
BioRED Train and tmVar3 Train (see benchmarks/variant_normalisation.py for the figures).

Limits: BioRED (and tmVar3 where it could) normalises many mentions to a dbSNP rsID (``D90A`` ->
``rs80265967``). That mapping needs the gene and dbSNP, which are not available offline, so this
module returns the HGVS-style form and such gold IDs will not match. A one-letter substitution made
of nucleotide letters only (``C314A``) is read as DNA, as the corpora mostly annotate it.
"""

from __future__ import annotations

import re
import unicodedata

# One table of amino acids: one-letter code, three-letter code, name (IUPAC-IUB 1983). ``X`` is the
# stop codon, as tmVar writes it (``p.E947stop`` -> ``p|SUB|E|947|X``).
AMINO_ACIDS: tuple[tuple[str, str, str], ...] = (
    ("A", "Ala", "alanine"),
    ("R", "Arg", "arginine"),
    ("N", "Asn", "asparagine"),
    ("D", "Asp", "aspartic acid"),
    ("C", "Cys", "cysteine"),
    ("Q", "Gln", "glutamine"),
    ("E", "Glu", "glutamic acid"),
    ("G", "Gly", "glycine"),
    ("H", "His", "histidine"),
    ("I", "Ile", "isoleucine"),
    ("L", "Leu", "leucine"),
    ("K", "Lys", "lysine"),
    ("M", "Met", "methionine"),
    ("F", "Phe", "phenylalanine"),
    ("P", "Pro", "proline"),
    ("S", "Ser", "serine"),
    ("T", "Thr", "threonine"),
    ("W", "Trp", "tryptophan"),
    ("Y", "Tyr", "tyrosine"),
    ("V", "Val", "valine"),
    ("X", "Ter", "stop"),
)
# Other spellings seen in the corpora, mapped to the one-letter code.
_AA_EXTRA = {
    "aspartate": "D", "glutamate": "E", "stop codon": "X", "termination": "X", "termination codon": "X",
    "*": "X", "xaa": "X", "sec": "U",
}
_AA_BY_NAME: dict[str, str] = {}
for _one, _three, _name in AMINO_ACIDS:
    _AA_BY_NAME[_one.lower()] = _one
    _AA_BY_NAME[_three.lower()] = _one
    _AA_BY_NAME[_name] = _one
_AA_BY_NAME.update(_AA_EXTRA)

# The standard genetic code (NCBI translation table 1), to read "GAG-->GCG at codon 26" as p|SUB|E|26|A.
_BASES = "TCAG"
_CODE = "FFLLSSSSYYXXCCXWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODONS = {a + b + c: _CODE[16 * i + 4 * j + k]
          for i, a in enumerate(_BASES) for j, b in enumerate(_BASES) for k, c in enumerate(_BASES)}

_NUCLEOTIDES = {"adenine": "A", "cytosine": "C", "guanine": "G", "thymine": "T", "thymidine": "T",
                "uracil": "U", "adenosine": "A", "guanosine": "G", "cytidine": "C"}

# Regex pieces. Names first so "Gly" is not read as "G" + "ly".
_NAMES = sorted((n for n in _AA_BY_NAME if len(n) > 1), key=len, reverse=True)
AA3 = r"(?:Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val|Ter|Stop|Sec|Xaa)"
AA_NAME = "(?:" + "|".join(re.escape(n) for n in _NAMES) + ")"
AA1 = r"[ACDEFGHIKLMNPQRSTVWYX*]"
AA = rf"(?:{AA3}|{AA1})"
NT = r"[ACGTU]"
NT_NAME = "(?:" + "|".join(_NUCLEOTIDES) + ")"
SEQ = r"(?:([cgmnrp])\.\s?)?"  # HGVS reference-sequence prefix
POS = r"(?:IVS\s?-?(?:\d+|[IVX]+)\s?[-+]\s?\d+|[-+*]?\d+(?:\s?[-+]\s?\d+)?)"  # c.357-3, IVS3+1, IVS-II-1, -218
NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10}
ARROW = r"\s?(?:>|/|to|for|by|into)\s?"


def _aa(token: str) -> str:
    """One-letter code of an amino acid written as one letter, three letters or a name."""
    token = token.strip()
    if len(token) == 1:
        return "X" if token == "*" else token.upper()
    return _AA_BY_NAME[token.lower()]


def _nt(token: str) -> str:
    """One-letter code of a nucleotide written as a letter or a name."""
    token = token.strip()
    return token.upper() if len(token) == 1 else _NUCLEOTIDES[token.lower()]


def _pos(text: str) -> str:
    """A position without spaces, intron numbers in digits: ``IVS-II-1`` -> ``IVS2-1``, ``6573 + 1`` -> ``6573+1``."""
    text = text.replace(" ", "")
    m = re.fullmatch(r"IVS-?([IVX]+)([-+]\d+)", text)
    if m and m[1] in _ROMAN:
        return f"IVS{_ROMAN[m[1]]}{m[2]}"
    return text.replace("IVS-", "IVS")


def _span(text: str) -> str:
    """A position range in tmVar's form: ``1782-83`` -> ``1782_1783``, ``2238-9`` -> ``2238_2239``."""
    text = _pos(text)
    m = re.fullmatch(r"([-+]?\d+)[-_]([-+]?\d+)", text)
    if not m:
        return text
    start, end = m.groups()
    if start.isdigit() and end.isdigit() and len(end) < len(start) and int(end) < int(start):
        end = start[: len(start) - len(end)] + end
    return f"{start}_{end}"


def _size(number: str, unit: str) -> str:
    """A length in tmVar's form: ``3.5``/``kb`` -> ``3.5K``, ``37,410``/``bp`` -> ``37410``."""
    number = NUMBER_WORDS.get(number.lower(), number.replace(",", ""))
    unit = unit.lower()
    if unit.startswith("k"):
        return number + "K"
    if unit.startswith("m"):
        return number + "M"
    return number


def _dna_or_protein(ref: str, alt: str) -> str:
    """``c`` when both one-letter codes are nucleotides (the corpora's majority reading), else ``p``."""
    return "c" if re.fullmatch(r"[ACGTU]", ref) and re.fullmatch(r"[ACGTU]", alt) else "p"


def _clean(text: str) -> str:
    """Unify arrows, dashes, spaces and Greek delta so the rules can be written once."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = re.sub(r"\s*(?:-+>|=>|\u2192|\u2794|&gt;)\s*", ">", text)
    text = re.sub(r"\s+", " ", text)
    return text.replace("\u0394", "delta").replace("\u03b4", "delta")


# Each rule: (compiled regex, builder). The builder takes the match and returns the ID.
_RULES: list[tuple[re.Pattern[str], object]] = []


def _rule(pattern: str, flags: int = 0):
    """Register a builder for a pattern matched against the whole cleaned mention."""
    def register(builder):
        _RULES.append((re.compile(pattern, flags), builder))
        return builder
    return register


@_rule(r"rs\s?#?\s?(\d+)", re.I)
def _rsid(m: re.Match[str]) -> str:
    return f"rs{m[1]}"


# --- DNA substitutions -------------------------------------------------------------------------
@_rule(rf"{SEQ}({POS}),?\s?\(?({NT})\s?(?:>|/)\s?({NT})\)?")
def _hgvs_dna_sub(m: re.Match[str]) -> str:  # c.1799T>A, -588 (A>G), -1082(G/A), 1858C/T, 6573 + 1G > C
    return f"{m[1] or 'c'}|SUB|{m[3]}|{_pos(m[2])}|{m[4]}"


@_rule(rf"({POS}),?\s?\(?([acgtu])\s?(?:>|/)\s?([acgtu])\)?")
def _rna_sub(m: re.Match[str]) -> str:  # IVS10+1, g-->t: lower-case bases are RNA in HGVS (tmVar writes r)
    return f"r|SUB|{m[2].upper()}|{_pos(m[1])}|{m[3].upper()}"


@_rule(rf"{SEQ}({NT})\s?({POS})\s?({NT})")
def _dna_sub_ref_first(m: re.Match[str]) -> str:  # G-308A, A 1166C, T2734C
    return f"{m[1] or 'c'}|SUB|{m[2]}|{_pos(m[3])}|{m[4]}"


@_rule(rf"({POS})\s?(?:-?(?:bp|basepair|base pair))\s({NT})\s?(?:>|-to-|to)\s?({NT})", re.I)
def _dna_sub_bp_prefix(m: re.Match[str]) -> str:  # -4-bp G-to-A, +14 bp C-to-T
    return f"c|SUB|{m[2].upper()}|{m[1].lstrip('+')}|{m[3].upper()}"


_AT_POS = (r"(?:\s?(?:substitution|transition|transversion|mutation|change|polymorphism|exchange))?"
           r"(?:\s(?:at|in|of)\s(?:the\s)?((?:cDNA\s|amino[\s-]acid\s|nucleotide\s|codon\s|residue\s|base\s|"
           r"position\s|nt\s|nucleotides\s)*)(?:position\s)?(?:[cgp]\.\s?)?({POS})(?:\sposition)?)?")


@_rule(rf"\(?({NT}|{NT_NAME})(?:\s?[>/]\s?|\s?-to-\s?|\s(?:to|for|by|with)\s)({NT}|{NT_NAME})\)?"
       + _AT_POS.format(POS=POS), re.I)
def _dna_sub_prose(m: re.Match[str]) -> str:  # G to A, C>T, G/A, (G>A) at nucleotide position 2141
    position = _pos(m[4] or "")
    if position and m[3] and m[3].lower().startswith("codon"):
        position = f"CODON{position}"  # tmVar: "G to C at codon 158" -> c|SUB|G|CODON158|C
    return f"c|SUB|{_nt(m[1])}|{position}|{_nt(m[2])}"


@_rule(r"([ACGT])\1\s?(?:>|/|to)\s?([ACGT])\2")
def _genotype_change(m: re.Match[str]) -> str:  # CC to TT (genotypes; tmVar writes the base change)
    return f"c|SUB|{m[1]}||{m[2]}"


@_rule(r"(?:.*\s)?(?:codon\s(\d+),?\s)?\(?([ACGT]{3})\s?[>/]\s?([ACGT]{3})\)?(?:\s(?:transition|transversion|"
       r"substitution|change|mutation))?(?:\s(?:at|in)\s(?:the\s)?codon\s(\d+))?\)?", re.I)
def _codon_change(m: re.Match[str]) -> str:  # GTT>GCT transition at codon 23, codon 26, GAG>GCG
    position = m[1] or m[4] or ""
    if not position and (found := re.search(r"codon (\d+)", m[0])):
        position = found[1]
    return f"p|SUB|{CODONS[m[2].upper()]}|{position}|{CODONS[m[3].upper()]}"


# --- protein substitutions ---------------------------------------------------------------------
@_rule(rf"{SEQ}\(?({AA3}|{AA1})\s?(-?\d+)\s?-?\s?({AA3}|{AA1}|stop|Stop|STOP)\)?")
def _protein_sub(m: re.Match[str]) -> str:  # V600E, p.Val600Glu, Cys 23 Ser, p.E947stop
    ref, alt = _aa(m[2]), _aa(m[4])
    seq = m[1] or ("p" if len(m[2]) > 1 or len(m[4]) > 1 else _dna_or_protein(ref, alt))
    return f"{seq}|SUB|{ref}|{m[3]}|{alt}"


@_rule(rf"({AA_NAME})\s?-?\s?(\d+)\s?(?:-?to-?\s?|>\s?|by\s|for\s|with\s|-)?\s?({AA_NAME})", re.I)
def _protein_sub_names(m: re.Match[str]) -> str:  # glycine-594-valine, arginine 150 proline
    return f"p|SUB|{_aa(m[1])}|{m[2]}|{_aa(m[3])}"


@_rule(rf"({AA3})\s?/\s?({AA3})")
def _protein_pair(m: re.Match[str]) -> str:  # Gln/Gln (a codon's two alleles, no position)
    return f"p|SUB|{_aa(m[1])}||{_aa(m[2])}"


@_rule(rf"([-+]?\d+)\s?({AA1})\s?/\s?({AA1})")
def _protein_sub_pos_first(m: re.Match[str]) -> str:  # 192Q/R, -1240 L/S
    return f"{_dna_or_protein(m[2], m[3])}|SUB|{m[2]}|{m[1]}|{m[3]}"


@_rule(r"stop codon for (\w+) at (?:codon|residue|position) (\d+)", re.I)
def _stop_for(m: re.Match[str]) -> str:  # stop codon for glutamine at codon 298
    return f"p|SUB|{_aa(m[1])}|{m[2]}|X"


@_rule(r"(\w+) codon at amino acid position (\d+) into a stop(?: codon)?", re.I)
def _codon_into_stop(m: re.Match[str]) -> str:  # tyrosine codon at amino acid position 67 into a stop
    return f"p|SUB|{_aa(m[1])}|{m[2]}|X"


_AA_WORD = rf"(?:{AA_NAME}|{AA3}|[ACDEFGHIKLMNPQRSTVWY])(?:\s\([A-Za-z]{{1,3}}\))?(?:\s(?:residue|codon|amino acid))?"
_AA_PROSE = (rf"(?:codon\s(\d+),?\s)?(?:an?\s|the\s)?({_AA_WORD})"
             rf"(?:\s?>\s?|\s?-to-\s?|\s(?:to|for|by|with|into)\s)(?:an?\s|the\s)?({_AA_WORD})"
             rf"(?:\s(?:codon|residue))?" + _AT_POS.format(POS=r"\d+"))


@_rule(_AA_PROSE, re.I)
def _protein_sub_prose(m: re.Match[str]) -> str:  # serine to glycine at position 51, Ser>Cys substitution
    def word(token: str) -> str:
        return _aa(re.sub(r"\s\([A-Za-z]{1,3}\)|\s(?:residue|codon|amino acid)$", "", token, flags=re.I))
    return f"p|SUB|{word(m[2])}|{m[1] or m[5] or ''}|{word(m[3])}"


# --- frameshifts, deletion-insertions, duplications ---------------------------------------------
@_rule(rf"{SEQ}({AA3}|{AA1})(\d+)({AA3}|{AA1})?\s?fs\s?(?:\*|X|Ter)?\s?(\d+)?\s?X?", re.I)
def _frameshift(m: re.Match[str]) -> str:  # p.G204VfsX28, R58fs, C105Vfs114X, p.T3708fs3769
    alt = _aa(m[4]) if m[4] else ""
    return f"p|FS|{_aa(m[2])}|{m[3]}|{alt}|{m[5] or ''}"


@_rule(rf"{SEQ}(?:{AA})?(\d+)(?:_(?:{AA})?(\d+))?\s?delins\s?(\w+)")
def _delins(m: re.Match[str]) -> str:  # p.Asp46_Gln48delinsGlu, c.112_117delinsTG
    span = f"{m[2]}_{m[3]}" if m[3] else m[2]
    return f"{m[1] or 'c'}|INDEL|{span}|{m[4]}"


@_rule(rf"{SEQ}({POS}(?:\s?[_-]\s?{POS})?)\s?dup\s?({NT}*|\d*)")
def _hgvs_dup(m: re.Match[str]) -> str:  # c.429_452dup, 1308_1316 dup9
    return f"{m[1] or 'c'}|DUP|{_span(m[2])}|{m[3]}|"


@_rule(r"(?:(\d+|" + "|".join(NUMBER_WORDS) + r")\s)?([ACGTU]{2,})\s(?:and\s[ACGTU]{2,}\s)?repeats?")
def _seq_repeat(m: re.Match[str]) -> str:  # CAG repeat, 5 GC repeats
    return f"c|DUP||{m[2]}|{NUMBER_WORDS.get(m[1] or '', m[1] or '')}"


@_rule(r"dup\s?(\d+)\s?-?(?:bp|nt)?", re.I)
def _dup_size(m: re.Match[str]) -> str:  # dup24bp
    return f"c|DUP||{m[1]}|"


@_rule(r"\(([ACGTU]+)\)\s?(\d+|n)", re.I)
def _repeat(m: re.Match[str]) -> str:  # (CCTTT)14, (TTTA)n
    return f"c|DUP||{m[1].upper()}|{m[2]}"


# --- deletions and insertions ---------------------------------------------------------------------
@_rule(rf"{SEQ}({POS}(?:\s?[_-]\s?{POS})?)\s?del\s?({NT}+|\d+)?")
def _hgvs_dna_del(m: re.Match[str]) -> str:  # 4153delA, g.3455_3460del, 1782-83delAG, 1494del6
    return f"{m[1] or 'c'}|DEL|{_span(m[2])}|{m[3] or ''}"


@_rule(rf"{SEQ}({AA3}|{AA1})(\d+)(?:\s?[_-]\s?({AA3}|{AA1})(\d+))?\s?del(?:etion)?")
def _protein_del(m: re.Match[str]) -> str:  # p.V239del, Val624-Val625del
    if m[4]:
        return f"{m[1] or 'p'}|DEL|{m[3]}_{m[5]}|{_aa(m[2])}{_aa(m[4])}"
    return f"{m[1] or 'p'}|DEL|{m[3]}|{_aa(m[2])}"


@_rule(rf"{SEQ}(\d+)\s?del\s?([A-Z]+)")
def _protein_del_seq(m: re.Match[str]) -> str:  # 157delMTTTVP (letters not all nucleotides)
    return f"{m[1] or 'p'}|DEL|{m[2]}|{m[3]}"


@_rule(rf"del\s?({POS})\s?({NT}+)")
def _del_pos_first(m: re.Match[str]) -> str:  # del418T
    return f"c|DEL|{m[1]}|{m[2]}"


@_rule(r"delta\s?(\d+(?:E\d+)?)(?:-(\d+))?", re.I)
def _delta_size(m: re.Match[str]) -> str:  # Delta32 (CCR5), Delta30-4995
    return f"c|DEL|{m[2] or ''}|{m[1]}"


@_rule(rf"(?:delta|del)\s?({AA3}|{AA1})\s?(\d+)", re.I)
def _delta_residue(m: re.Match[str]) -> str:  # DeltaF508, delta F508, delF508
    return f"p|DEL|{m[2]}|{_aa(m[1])}"


@_rule(rf"(?:deletion of|deleted)\s({AA3}|{AA1}|{AA_NAME})\s?-?(\d+)", re.I)
def _deletion_of_residue(m: re.Match[str]) -> str:  # deletion of F508, deletion of Phe508
    return f"p|DEL|{m[2]}|{_aa(m[1])}"


@_rule(rf"{SEQ}({POS}(?:\s?[_-]\s?{POS})?)\s?ins\s?((?:\(?[ACGTU]+\)?(?:\(\d+\))?)+|\d+)")
def _hgvs_dna_ins(m: re.Match[str]) -> str:  # 5382insC, 2172_2173insCCCC, c.304ins(GCG)(7)
    seq = m[3].replace("(", "", 1).replace(")", "", 1) if m[3].startswith("(") else m[3]
    return f"{m[1] or 'c'}|INS|{_span(m[2])}|{seq}"


@_rule(r"([A-Z]+)(\d+\s?[_-]\s?\d+)ins")
def _protein_ins_seq_first(m: re.Match[str]) -> str:  # AFF344-345ins
    return f"p|INS|{_span(m[2])}|{m[1]}"


_UNIT = r"(?:bp|kbp|kb|mbp|mb|base[- ]?pairs?|bases?|nucleotides?|nt|basepairs?|amino acids?|residues?)"
_NUMBER = "(?:" + "|".join(NUMBER_WORDS) + ")"
_KIND = {"deletion": "DEL", "deleted": "DEL", "del": "DEL", "insertion": "INS", "insert": "INS",
         "ins": "INS", "duplication": "DUP", "repeat": "DUP", "indel": "INDEL", "insertion/deletion": "INDEL",
         "deletion/insertion": "INDEL", "ins/del": "INDEL", "del/ins": "INDEL"}
_KIND_RE = r"(insertion/deletion|deletion/insertion|ins/del|del/ins|indel|deletions?|deleted|insertions?|insert|" \
           r"duplications?|(?:tandem\s)?repeats?)"


def _kind(word: str) -> str:
    word = word.lower().removeprefix("tandem ")
    return _KIND[word[:-1] if word.endswith(("ions", "repeats")) else word]


@_rule(rf"([-+]\d+)\s?-?\s?(?:bp\s|gene\s)?{_KIND_RE}", re.I)
def _signed_position_kind(m: re.Match[str]) -> str:  # -120 bp duplication, -4825 gene insertion/deletion
    return f"c|{_kind(m[2])}|{m[1]}||"


@_rule(rf"{_KIND_RE}(?:\spolymorphism)?\sat\sposition\s({POS})", re.I)
def _kind_at_position(m: re.Match[str]) -> str:  # indel polymorphism at position -4825
    return f"c|{_kind(m[1])}|{_pos(m[2])}||"


@_rule(r"(?:DD|delta\s?)(\d+)(?:\sdeletion)?", re.I)
def _delta_size_dd(m: re.Match[str]) -> str:  # DD32 deletion: a Delta32 whose Greek letter was lost
    return f"c|DEL||{m[1]}"


@_rule(rf"({POS})\s(\d+)N\s(del|ins/del|indel)", re.I)
def _n_bases(m: re.Match[str]) -> str:  # -652 6N del
    return f"c|{'DEL' if m[3].lower() == 'del' else 'INDEL'}|{m[1]}|{m[2]}"


@_rule(r"del\s?([ACGTU]+|\d+)")
def _del_without_position(m: re.Match[str]) -> str:  # delTTCA, del6
    return f"c|DEL||{m[1]}"


@_rule(rf"((?:{AA1}\d+_?)+)\s?del(?:etion)?")
def _protein_del_residues(m: re.Match[str]) -> str:  # D487_S488_F489 deletion
    residues = re.findall(r"([A-Z])(\d+)", m[1])
    return f"p|DEL|{residues[0][1]}_{residues[-1][1]}|{''.join(r for r, _ in residues)}"


@_rule(r"([A-Z]{2,})\s(\d+\s?-\s?\d+)\sdel(?:etion)?")
def _protein_seq_span_del(m: re.Match[str]) -> str:  # AVAQ 594-597 deletion
    return f"p|DEL|{_span(m[2])}|{m[1]}"


@_rule(r"deletion(?:\smutation)?\sin\scodon\s(\d+)|codon\s(\d+)\sdeletion", re.I)
def _codon_del(m: re.Match[str]) -> str:  # codon 138 deletion, deletion mutation in codon 138
    return f"p|DEL|{m[1] or m[2]}|"


@_rule(rf"(\d+(?:[.,]\d+)?|{_NUMBER})\s?-?\s?({_UNIT})(?:[\s-](?:\([^)]*\)|[a-z]+)){{0,3}}?[\s-]?{_KIND_RE}(?:\s.*)?",
       re.I)
def _size_kind(m: re.Match[str]) -> str:  # 22-bp deletion, 3.5-kb gene deletion, 14 bp insertion/deletion
    kind = _kind(m[3])
    seq = "p" if m[2].lower().startswith(("amino", "residue")) else "c"
    return f"{seq}|{kind}||{_size(m[1], m[2])}" + ("|" if kind == "DUP" else "")


@_rule(rf"{_KIND_RE}\s(?:of\s)?(\d+(?:[.,]\d+)?|{_NUMBER})\s?-?\s?({_UNIT})", re.I)
def _kind_of_size(m: re.Match[str]) -> str:  # deletion of 37,410 bp, insertion of 20 amino acids
    kind = _kind(m[1])
    seq = "p" if m[3].lower().startswith(("amino", "residue")) else "c"
    return f"{seq}|{kind}||{_size(m[2], m[3])}" + ("|" if kind == "DUP" else "")


@_rule(rf"(?:(\d+)\s)?({NT_NAME})\s(deletion|insertion)(?:\sat\s(?:nucleotide|position)\s(\d+))?", re.I)
def _named_base_kind(m: re.Match[str]) -> str:  # 202 adenine deletion, adenine deletion at nucleotide 202
    return f"c|{_kind(m[3])}|{m[1] or m[4] or ''}|{_nt(m[2])}"


@_rule(rf"(?:deletion|insertion) of (?:an?\s)?({NT}+)(?:\snucleotide)? at (?:the\s)?(?:nucleotide\s)?"
       rf"(?:position\s)?({POS})", re.I)
def _kind_of_base_at(m: re.Match[str]) -> str:  # deletion of C at nucleotide 888
    kind = "DEL" if m[0].lower().startswith("del") else "INS"
    return f"c|{kind}|{m[2]}|{m[1].upper()}"


@_rule(rf"\(?([ACGTU]{{2,}})\)?\s?-?{_KIND_RE}")
def _seq_kind(m: re.Match[str]) -> str:  # TGAG deletion, (TTAT) insertion
    kind = _kind(m[2])
    return f"c|{kind}||{m[1]}" + ("|" if kind == "DUP" else "")


@_rule(r"(duplication|deletion|insertion)\s\(?([ACGTU]{2,})\)?")
def _kind_seq(m: re.Match[str]) -> str:  # duplication GGCC
    kind = _kind(m[1])
    return f"c|{kind}||{m[2]}" + ("|" if kind == "DUP" else "")


# --- alleles -------------------------------------------------------------------------------------------
@_rule(r"(?:stop codon|termination codon|termination|stop) at (?:amino acid position|codon|residue|position) (\d+)",
       re.I)
def _stop_at(m: re.Match[str]) -> str:  # stop codon at residue 178
    return f"p|Allele|X|{m[1]}"


@_rule(rf"{SEQ}({AA3})\s?(-?\d+)")
def _protein_allele(m: re.Match[str]) -> str:  # Arg70, p.Thr26
    return f"p|Allele|{_aa(m[2])}|{m[3]}"


@_rule(rf"({POS})\s?-?({NT}{{1,2}}|{NT_NAME})(?:\+{NT}{{2}})?")
def _dna_allele_pos_first(m: re.Match[str]) -> str:  # 202A, -218G, 1188-C, -308 adenine, IVS9+459 GG
    return f"c|Allele|{_nt(m[2]) if len(m[2]) > 2 else m[2]}|{_pos(m[1])}"


@_rule(rf"({NT}|D|I)\sallele\s(?:of|for|at)\s(?:the\s)?({POS})")
def _allele_of(m: re.Match[str]) -> str:  # A allele of -588, D allele for the -1607
    return f"c|Allele|{m[1]}|{_pos(m[2])}"


@_rule(rf"(?:({AA_NAME})\s(?:at\s(?:residue|position|codon)\s)?(\d+)|(\d+)\s({AA_NAME}))", re.I)
def _protein_allele_name(m: re.Match[str]) -> str:  # histidine 158, lysine at residue 223, 634 cysteine
    return f"p|Allele|{_aa(m[1] or m[4])}|{m[2] or m[3]}"


@_rule(r"(\d+)\s?(X)")
def _stop_allele(m: re.Match[str]) -> str:  # 573X
    return f"p|Allele|X|{m[1]}"


@_rule(rf"{SEQ}({AA1})\s?(\d{{2,}})")
def _one_letter_allele(m: re.Match[str]) -> str:  # A1166 (DNA), D2267 (protein)
    seq = m[1] or ("c" if m[2] in "ACGTU" else "p")
    return f"{seq}|Allele|{m[2]}|{m[3]}"


def normalise_variant(text: str) -> tuple[str, str]:
    """Normalised tmVar/BioRED ID of a variant mention, or ("", "no-match: <text>")."""
    cleaned = _clean(text)
    if not cleaned:
        return "", "no-match: empty mention"
    for pattern, builder in _RULES:
        m = pattern.fullmatch(cleaned)
        if m:
            return builder(m), ""  # type: ignore[operator]
    return "", f"no-match: no variant pattern fits {text!r}"
