"""Split a document's text into sentences with exact character offsets.

A rule-based splitter tuned for PubMed titles and abstracts: every stretch of whitespace that
follows sentence-final punctuation (``.``, ``?``, ``!``, an ellipsis, optionally closed by
quotes or brackets) is a candidate boundary, and rules about the token before and the token
after decide whether it is one: the classic "period + abbreviation list + capitalisation"
approach (Kiss & Strunk 2006, "Unsupervised multilingual sentence boundary detection",
Computational Linguistics 32(4); Read et al. 2012, "Sentence boundary detection: a long solved
problem?", COLING, who show how general splitters fail on the GENIA biomedical corpus), plus
rules for what biomedical text adds: genus initials ("E. coli"), dosing routes ("i.p."),
figure references ("Fig. 2"), numbers broken by a space ("0. 05"), lowercase gene symbols at
a sentence start ("p53", "mRNA") and PubMed structured-abstract labels ("METHODS:").

Offsets index the document text, PubTator's ``title + " " + abstract``; a boundary is always
forced at the end of the title. Sentences never start or end with whitespace, and every
non-space character of the text belongs to exactly one sentence.

The word lists and rules come from reading every boundary decision on the BioCreative V CDR
(train, dev), NCBI-disease, BioRED training texts and the BioCreative II GM sentences;
``benchmarks/sentence_boundaries.py`` measures the result (gold mentions cut by a boundary,
boundary precision and recall).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from litmine.tasks.isolation import failed_pmids, isolated
from litmine.tasks.records import Article, DocumentFailure, Sentence

# --- Word lists -------------------------------------------------------------------------------
# Collected from the corpora named in the module docstring; each list says what it is for.


def _variants(words: str) -> frozenset[str]:
    """The words as written, lowercased and capitalised ("Fig." -> fig., Fig.).

    Never all capitals: "MS." (multiple sclerosis) ends sentences and must not match "Ms.".
    """
    out = set()
    for w in words.split():
        out.update((w, w.lower(), w[0].upper() + w[1:]))
    return frozenset(out)


# Abbreviations that (almost) never end a sentence: whatever follows, no boundary.
NEVER_FINAL = _variants("""
e.g. eg. i.e. ie. cf. c.f. vs. viz. approx. resp. incl. excl. Fig. Figs. Eq. Eqs. Ref. Refs.
Suppl. Dr. Drs. Mr. Mrs. Ms. Prof. St. Mt.
""") | {"ca."}  # "ca." (circa) only in lowercase: "Ca." is calcium.

# Abbreviations that end a sentence only when a common sentence opener follows
# ("in the U.S. The ..." but "the U.S. Food and Drug Administration").
AMBIGUOUS = _variants("""
U.S. U.S.A. U.K. E.U. Ph.D. M.D. Inc. Corp. Co. Ltd. Jr. Dept. Univ. Linn.
""")

# Abbreviations that are never final before a number but may be otherwise ("No. 5" / "No.";
# months, where "Jun." could also be the JUN protein ending a sentence).
BEFORE_NUMBER = _variants("""
No. Nos. Nr. p. pp. Vol. Art. Ch. Sec. Sect. Tab. Cat. ver. n. v. sp. spp. Jan. Feb. Mar. Apr.
Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec.
""")

# Words that open a sentence far more often than they follow an initial or an abbreviation:
# closed-class words and the discourse adverbs of abstracts. Used only to resolve ambiguous
# cases (an initial "J. Smith" vs "vitamin D. The ...").
STARTERS = frozenset("""
a an the this these that those there their they them it its our we in on at as to for of
with without by from after before during among although though however moreover furthermore
further additionally also both each every all most many several some no none neither not
only one two three four five six seven eight nine ten when while whereas where whether which
what who because since thus therefore hence here finally first second third similarly
conversely consequently overall taken together such then yet but and or if despite following
under within between through upon over using importantly interestingly notably nevertheless
nonetheless unlike like he she his her i my in addition results conclusion conclusions
methods background objective objectives aim aims purpose patients subjects participants
instead surprisingly accordingly specifically collectively recently currently previously
indeed still thereafter subsequently likewise meanwhile otherwise rather briefly lastly
""".split())

# Lowercase words after which a capital letter plus period is a name, not an initial:
# "hepatitis B. Patients ...", "vitamin D. The ...", "type A. In ...". Function words are left
# out on purpose ("by J. Smith", "and E. Jones").
FUNCTION_WORDS = frozenset("""
a an the and or of by with from to for in on at as via nor but than per
""".split())

# Nouns that take a letter ("Group B.", "Type A.", "Vitamin E."): after them a capital letter
# plus period ends a sentence even when the noun is capitalised.
LETTER_NOUNS = frozenset("""
group groups type types vitamin hepatitis phase class grade stage factor protein kinase complex
arm cohort subtype serotype strain site chain form fraction region zone domain loop period panel
figure table appendix compound series segment lead trial study part level pattern category
schedule regimen lipoprotein influenza coenzyme
""".split())

# First words of PubMed structured-abstract labels. MEDLINE writes a label in capitals followed
# by a colon (Ripple et al. 2011, J Med Libr Assoc 99(2):160-3; NLM's label list at
# structuredabstracts.nlm.nih.gov maps ~2,000 labels to BACKGROUND, OBJECTIVE, METHODS, RESULTS,
# CONCLUSIONS); PubMed text joins the sections as "LABEL: text" with one space.
LABEL_WORDS = frozenset("""
ABSTRACT AIM AIMS ANALYSIS ANIMALS APPROACH BACKGROUND CASE CASES CLINICAL COMMENT COMMENTS
CONCLUSION CONCLUSIONS CONTEXT DATA DESIGN DISCUSSION EVIDENCE EXPOSURE EXPOSURES EXTRACTION
FINDINGS FUNDING HYPOTHESIS IMPLICATIONS IMPORTANCE INTERPRETATION INTERVENTION INTERVENTIONS
INTRODUCTION LIMITATIONS MAIN MATERIAL MATERIALS MEASUREMENT MEASUREMENTS MEASURES METHOD
METHODOLOGY METHODS OBJECTIVE OBJECTIVES OBSERVATIONS OUTCOME OUTCOMES PARTICIPANTS PATIENT
PATIENTS POPULATION PRESENTATION PROCEDURE PROCEDURES PURPOSE RATIONALE RECOMMENDATIONS
REGISTRATION REPORT RESULT RESULTS REVIEW SAMPLE SELECTION SETTING SETTINGS SIGNIFICANCE
SOURCES STUDY SUBJECTS SUMMARY SYNTHESIS TRIAL UNLABELLED EXPERIMENTAL PRINCIPAL KEY AUTHORS
SEARCH ETHICS GOAL GOALS LEVEL QUESTION QUESTIONS RESEARCH PROBLEM RELEVANCE
""".split())

# --- Patterns ---------------------------------------------------------------------------------
_CLOSERS = "\"'”’»)]}"
_OPENERS = "\"'“‘«([{"
# Sentence-final punctuation, then optional closing quotes/brackets, then whitespace.
_CANDIDATE = re.compile(r"(?:[.?!]+|…)[" + re.escape(_CLOSERS) + r"]*(\s+)")
# A structured-abstract label: capitalised words then a colon ("MATERIALS AND METHODS:").
_LABEL = re.compile(r"(\s+)([A-Z][A-Z]+'?(?:(?:[ ,/&-]+|\s+and\s+)[A-Z]+'?){0,5})\s?:\s")
# MEDLINE cuts long abstracts with this note, without a period before the next sentence.
_TRUNCATED = re.compile(r"\(ABSTRACT TRUNCATED[^)]*\)\.?(\s+)")
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")
_DOTTED = re.compile(r"^(?:[A-Za-z]\.){2,}$")  # "U.S.", "i.p.", "b.i.d."
_INITIAL = re.compile(r"^[A-Z]\.$")
_LIST_NUMBER = re.compile(r"^(?:\d{1,2}|[ivx]{1,4}|[a-h])\.$")
_LIST_ITEM = re.compile(r"^\((?:\d{1,2}|[ivx]{1,4}|[a-h])\)$")
_WORD = re.compile(r"\S+")
_SYMBOL = re.compile(r"[\w-]+")
# A unit with a negative exponent ("mg. kg-1", "mg. l(-1)"): old-style units, not a sentence.
_INVERSE_UNIT = re.compile(r"^[a-zµμ]{1,5}(?:-1|\(-1\))")
_BRACKET = re.compile(r"[()\[\]]")

# Brackets further apart than this are not trusted to hold one parenthetical: a stray ")" from
# a numbered list can pair with an unrelated "(" far away. Inline reference lists in MEDLINE
# abstracts reach ~900 characters (PMID 10085150, NCBI-disease) while a sentence has a median of
# 136 (CDR, NCBI-disease, BioRED training sentences); 1000 keeps every reference list whole.
MAX_PAREN_SPAN = 1000


def split_sentences(text: str, title_length: int | None = None) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences of `text`, in order.

    `title_length` is ``len(title)`` when `text` is ``title + " " + abstract``: a boundary is
    forced there, so the title is always a sentence (or several) of its own.
    """
    if title_length is None or title_length <= 0 or title_length >= len(text):
        return _split_region(text, 0, len(text))
    return _split_region(text, 0, title_length) + _split_region(text, title_length, len(text))


def split_article(article: Article) -> list[Sentence]:
    """Return the sentences of an article; index 0 is (the first sentence of) the title.

    A full-text article is split passage by passage (a boundary at each passage's end and at the
    end of its title part), so that no sentence spans two passages.
    """
    text = article.text
    if article.passages:
        spans = [span for p in article.passages
                 for start, end in ((p.start, p.title_end), (p.title_end, p.end))
                 for span in _split_region(text, start, end)]
    else:
        spans = split_sentences(text, len(article.title))
    return [Sentence(article.pmid, i, s, e, text[s:e]) for i, (s, e) in enumerate(spans)]


def join_sentences(sentences: Sequence[Sentence]) -> tuple[int, str]:
    """(start, text) of one document's consecutive sentences as a single unit of text.

    The text runs from the first sentence's start to the last one's end; the gaps between
    sentences (whitespace the splitter stripped) are spaces, so an offset into the unit plus
    `start` is an offset into the article text. Models trained on whole documents
    (`litmine train --unit document`) see exactly this text, in training and in the pipeline.
    """
    if not sentences:
        return 0, ""
    start = sentences[0].start
    chars = [" "] * (sentences[-1].end - start)
    for s in sentences:
        chars[s.start - start:s.end - start] = s.text
    return start, "".join(chars)


def _split_region(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] into stripped sentence spans (offsets into `text`)."""
    region = text[start:end]
    cuts = sorted(_find_cuts(region))
    spans: list[tuple[int, int]] = []
    previous = 0
    for cut_start, cut_end in [*cuts, (len(region), len(region))]:
        piece = region[previous:cut_start]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            s = start + previous + lead
            spans.append((s, s + len(stripped)))
        previous = cut_end
    return spans


def _find_cuts(text: str) -> Iterable[tuple[int, int]]:
    """Yield whitespace runs (start, end) of `text` that separate two sentences."""
    parens = _paren_spans(text)
    cuts: dict[int, int] = {}
    for match in _PARAGRAPH.finditer(text):
        cuts[match.start()] = match.end()
    for match in _TRUNCATED.finditer(text):
        cuts[match.start(1)] = match.end(1)
    forced_ends = sorted(cuts.values())
    sentence_start = 0
    for match in _CANDIDATE.finditer(text):
        gap_start, gap_end = match.span(1)
        if gap_end >= len(text):
            continue
        while forced_ends and forced_ends[0] <= gap_start:
            sentence_start = max(sentence_start, forced_ends.pop(0))
        if _is_boundary(text, match.start(), gap_start, gap_end, sentence_start, parens):
            cuts[gap_start] = gap_end
            sentence_start = gap_end
    for match in _LABEL.finditer(text):
        gap_start, gap_end = match.span(1)
        if gap_start not in cuts and not _inside(parens, gap_start) and _label_ok(text, gap_start):
            cuts[gap_start] = gap_end
    return cuts.items()


def _is_boundary(text: str, punct: int, gap_start: int, gap_end: int, sentence_start: int,
                 parens: list[tuple[int, int]]) -> bool:
    """Decide whether the whitespace text[gap_start:gap_end] after punctuation ends a sentence."""
    left = _token_before(text, gap_start)
    right_match = _WORD.match(text, gap_end)
    right = right_match.group() if right_match else ""
    core = left.lstrip(_OPENERS).rstrip(_CLOSERS)
    final = text[punct]

    # A label such as "METHODS:" after punctuation always opens a sentence.
    if _label_ok(text, gap_start):
        return True
    if _inside(parens, gap_start):
        return False
    if right[:1] in _OPENERS and "." in left.rstrip(_CLOSERS)[:-1]:
        # "saline i.v. (n = 12 per group)", "35 ng./ml. (8 of 12)": a parenthesis after a dotted
        # abbreviation continues the sentence.
        return False
    if final == "." and core.endswith(".") and not core.endswith(".."):
        if not _period_may_end(text, core, right, left, gap_start, sentence_start):
            return False
    return _opens_sentence(right)


def _period_may_end(text: str, core: str, right: str, left: str, gap_start: int,
                    sentence_start: int) -> bool:
    """Whether the word `core` (ending in ".") can be the last word before `right`."""
    # Text between the punctuation and the gap: closing quotes/brackets mean a real ending.
    closed = left != left.rstrip(_CLOSERS)
    if closed:
        return True
    first = right.lstrip(_OPENERS)[:1]
    if core == "al." and _previous_token(text, gap_start - len(left)) in ("et", "(et"):
        # "et al." ends a sentence before an opener ("... Smith et al. We found"), not before a
        # name or a year ("et al. Smith", "et al. (2005)").
        return _bare(right) in STARTERS
    if core in NEVER_FINAL:
        return False
    if core in BEFORE_NUMBER and first.isdigit():
        return False
    if core in AMBIGUOUS:
        return _bare(right) in STARTERS
    if _INITIAL.match(core):
        return _initial_ends(text, gap_start - len(left), right)
    if _DOTTED.match(core):
        # Dosing routes and times ("i.p.", "s.c.", "b.i.d.", "p.m.") end sentences freely; other
        # dotted acronyms ("U.S.", "Ph.D.") only before an opener.
        if core[0].islower():
            return True
        return _bare(right) in STARTERS
    # "0. 05", "19p13. 3", "EC 1. 14. 16. 1": a number broken by a stray space (NCBI-disease
    # abstracts have many), not a sentence that ends with a number and one that starts with one.
    if core[-2:-1].isdigit() and first.isdigit():
        return False
    # A list number at the start of a sentence or after a colon ("1. The first ...",
    # "RESULTS: 1. The ...") is a marker, not a sentence of its own.
    if _LIST_NUMBER.match(core):
        before = text[sentence_start:gap_start - len(left)].rstrip()
        if not before or before.endswith((":", ";")):
            return False
    return True


def _initial_ends(text: str, left_start: int, right: str) -> bool:
    """Whether a single capital letter plus period ("D.") ends a sentence.

    "vitamin D. The", "hepatitis B. Patients" end one; "J. Smith", "S. Typhimurium" do not.
    """
    before = _previous_token(text, left_start)
    if _bare(right) in STARTERS:
        return True
    # The last of a list of letters: "in groups A and B. Discrimination ...", "A, B, and C."
    if re.fullmatch(r"[A-Z],", before):
        return True
    if before in ("and", "or", "&"):
        start = left_start
        while start > 0 and text[start - 1].isspace():
            start -= 1
        if re.fullmatch(r"[A-Z],?", _previous_token(text, start - len(before))):
            return True
    word = before.rstrip(",;:").strip(_OPENERS + _CLOSERS)
    if not word.isalpha():
        return False
    if word.islower():
        return word not in FUNCTION_WORDS
    return word.lower() in LETTER_NOUNS


def _opens_sentence(right: str) -> bool:
    """Whether the token after a candidate boundary can be the first word of a sentence."""
    if _LIST_ITEM.match(right):  # "... by MR imaging. (ii) The ..."
        return True
    token = right.lstrip(_OPENERS)
    if not token:
        # Only brackets or quotes: "... was found. (ABSTRACT TRUNCATED)" -> look inside.
        return bool(right)
    c = token[0]
    if c.isupper() or c.isdigit():
        return True
    if c.islower():
        if "\u03b1" <= c <= "\u03c9":  # Greek lowercase: "α-Synuclein ...", "β-blockers ..."
            return True
        # Gene and molecule symbols start sentences in lowercase: "p53", "mRNA", "cAMP", "pH",
        # "l-DOPA", "n-3 fatty acids". Plain lowercase words do not.
        if _INVERSE_UNIT.match(token):
            return False
        word = _SYMBOL.match(token)
        return bool(word) and any(ch.isupper() or ch.isdigit() for ch in word.group()[1:])
    # "75 mg. /m2", "5 mg. %": a unit or an operator goes on with the sentence.
    return c not in ",;:)]}/%=<>+*^"


def _token_before(text: str, end: int) -> str:
    """The whitespace-delimited token that ends at `end`."""
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end]


def _previous_token(text: str, start: int) -> str:
    """The whitespace-delimited token before the one that starts at `start`."""
    end = start
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return _token_before(text, end)


def _bare(token: str) -> str:
    """A token without surrounding quotes, brackets and punctuation, lowercased."""
    return token.strip(_OPENERS + _CLOSERS + ".,;:").lower()


def _label_ok(text: str, gap_start: int) -> bool:
    """Whether a structured-abstract label ("RESULTS:", "MATERIALS AND METHODS:") starts here."""
    match = _LABEL.match(text, gap_start)
    if not match or re.match(r"[A-Z]+", match.group(2)).group() not in LABEL_WORDS:
        return False
    # Not the tail of a longer label: "STUDY DESIGN:" must not split before "DESIGN".
    before = _token_before(text, gap_start)
    return not (before.isupper() and before[-1:].isalpha()) and before not in ("and", "&")


def _paren_spans(text: str) -> list[tuple[int, int]]:
    """Spans (open, close) of balanced round/square brackets; unclosed ones are ignored."""
    pairs = {")": "(", "]": "["}
    stack: list[tuple[str, int]] = []
    spans: list[tuple[int, int]] = []
    for match in _BRACKET.finditer(text):
        i, c = match.start(), match.group()
        if c in "([":
            stack.append((c, i))
        else:
            if stack and stack[-1][0] == pairs[c]:
                _, open_at = stack.pop()
                if i - open_at <= MAX_PAREN_SPAN:
                    spans.append((open_at, i))
            # A lone closer ("1) first ...", "a] ...") is ignored.
    return spans


def _inside(spans: list[tuple[int, int]], position: int) -> bool:
    return any(s < position < e for s, e in spans)


@task(cache_policy=NO_CACHE)
def split_articles(articles: list[Article]) -> list[Sentence]:
    """Split every article into sentences (a Prefect task around `split_article`)."""
    return [sentence for article in articles for sentence in split_article(article)]


@task(name="split-documents", cache_policy=NO_CACHE)
def split_documents(articles: list[Article]) -> tuple[list[Sentence], list[DocumentFailure]]:
    """Split every article into sentences; an article the splitter raises on is a failure of
    stage "split", the others go on (tasks/isolation.py)."""
    sentences: list[Sentence] = []
    failures: list[DocumentFailure] = []
    for article in articles:
        with isolated("split", article.pmid, failures):
            sentences += split_article(article)
    failed = failed_pmids(failures)
    return [s for s in sentences if s.pmid not in failed], failures
