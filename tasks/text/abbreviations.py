"""Find abbreviation definitions in a document and use them to make its mentions consistent.

Detection follows Schwartz & Hearst 2003 ("A simple algorithm for identifying abbreviation
definitions in biomedical text", PSB 2003:451-462, and their public Java reference
implementation `ExtractAbbrev`): a parenthesis after a span of text is a candidate; its content
is the short form (SF) when it has at most two words and 2-10 characters with a letter, else the
word before the parenthesis is the SF and the content the long form (LF, "SF (long form)"). The
LF is found by matching the SF's letters and digits right to left in the words before the
parenthesis, the SF's first character at the start of a word; it may hold at most
min(|SF| + 5, 2 * |SF|) words.

Additions to the original, each needed by PubMed abstracts: parenthesised text inside the LF
candidate ("angiotensin converting enzyme (ACE) inhibitors (ACEI)") is skipped when matching, so
nested parentheses give the whole LF; the SF content stops at ";" or ", " ("(PAN; 50 mg/kg)");
contents that are statistics, references or enumerations ("(n = 12)", "(p < 0.05)", "(Fig. 2)",
"(ii)") are rejected by `_NOT_SHORT_FORM`; the LF candidate never crosses a sentence end.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from litmine.tasks.records import Article, Mention, Sentence
from litmine.tasks.text.sentences import split_article

#: Schwartz & Hearst's SF length limits (characters): 2..10.
MIN_SF_CHARS, MAX_SF_CHARS = 2, 10
#: Parenthesis contents that are never short forms: figure/table/reference pointers, statistics
#: and comparisons, enumerations (roman numerals, single letters), and "e.g."/"i.e." asides.
_NOT_SHORT_FORM = re.compile(
    r"""^(?:(?:figs?|figures?|tables?|tab|refs?|references?|eqs?|see|cf|e\.g|i\.e|vs|ca|approx
         |n|p|r|r2|or|hr|rr|ci|sd|se|sem|mean|median|range|total)\b\.?\s*[\d=<>≤≥±:.,-]
       |[ivxlc]+$|[a-z]$|\d+(?:[.,]\d+)?%?$|.*[=<>≤≥±].*|\d+\s*(?:mg|g|kg|ml|mm|nm|mm|h|min|s|%)\b.*
       )""", re.IGNORECASE | re.VERBOSE)
#: A sentence end inside the text before a parenthesis: the LF candidate starts after it.
_SENTENCE_END = re.compile(r"[.!?;:]\s+(?=[^a-z\s])")


@dataclass(frozen=True, slots=True)
class Abbreviation:
    """A definition found in a document: offsets index ``title + " " + abstract``."""

    pmid: str
    short: str
    long: str
    short_start: int
    short_end: int
    long_start: int
    long_end: int


def _close_parens(text: str) -> list[tuple[int, int, int]]:
    """Balanced (open, close, depth) parenthesis pairs, innermost last at each position."""
    pairs, stack = [], []
    for i, ch in enumerate(text):
        if ch in "([":
            stack.append((i, ch))
        elif ch in ")]" and stack:
            j, opener = stack.pop()
            if (opener, ch) in (("(", ")"), ("[", "]")):
                pairs.append((j, i, len(stack)))
            else:
                stack.clear()
    return sorted(pairs)


def _mask_parens(text: str) -> str:
    """`text` with every balanced parenthesised part (brackets included) replaced by spaces."""
    chars = list(text)
    for open_, close, _ in _close_parens(text):
        for k in range(open_, close + 1):
            chars[k] = " "
    return "".join(chars)


def _has_letter(s: str) -> bool:
    return any(c.isalpha() for c in s)


def is_short_form(candidate: str) -> bool:
    """Whether a string may be a short form (S&H's length, word and letter rules, + rejects)."""
    s = candidate.strip()
    if not (MIN_SF_CHARS <= len(s) <= MAX_SF_CHARS) or len(s.split()) > 2:
        return False
    if not _has_letter(s) or not s[0].isalnum():
        return False
    return not _NOT_SHORT_FORM.match(s)


def find_long_form(short: str, candidate: str) -> int | None:
    """Start offset in `candidate` of the shortest long form for `short` (S&H's findBestLongForm).

    Characters of `candidate` inside parentheses never match (they are masked first).
    """
    masked = _mask_parens(candidate)
    s_index = len(short) - 1
    l_index = len(masked) - 1
    while s_index >= 0:
        c = short[s_index].lower()
        if not c.isalnum():
            s_index -= 1
            continue
        while l_index >= 0 and (
                masked[l_index].lower() != c
                or (s_index == 0 and l_index > 0 and masked[l_index - 1].isalnum())):
            l_index -= 1
        if l_index < 0:
            return None
        l_index -= 1
        s_index -= 1
    start = masked.rfind(" ", 0, l_index + 1) + 1
    return start


def _acceptable(short: str, long: str) -> bool:
    """S&H's final checks: LF longer than SF, SF not inside LF, LF word count limits."""
    n_long_words = len([w for w in re.split(r"[\s-]+", long) if w])
    n_short = sum(c.isalnum() for c in short)
    inside = re.search(r"(?<![A-Za-z0-9])" + re.escape(short) + r"(?![A-Za-z0-9])", long)
    if len(long) <= len(short) or inside is not None:
        return False
    if long.lstrip().startswith(("(", "[")) or not _has_letter(long):
        return False
    return n_long_words <= min(n_short + 5, 2 * n_short)


def _definition(text: str, window_start: int, open_: int, close: int
                ) -> tuple[int, int, int, int] | None:
    """(short_start, short_end, long_start, long_end) for one parenthesis, or None."""
    inner_start, inner_end = open_ + 1, close
    content = text[inner_start:inner_end]
    # SF content stops at ";" or ", " (S&H: "(PAN; 10 mg)" defines PAN).
    cut = re.search(r";|,\s", content)
    sf_end = inner_start + (cut.start() if cut else len(content))
    sf_text = text[inner_start:sf_end]
    sf_start = inner_start + len(sf_text) - len(sf_text.lstrip())
    sf_end = sf_start + len(sf_text.strip())
    before = text[window_start:open_]
    before_end = window_start + len(before.rstrip())
    if is_short_form(text[sf_start:sf_end]):
        # "long form (SF)"
        short = text[sf_start:sf_end]
        candidate = text[window_start:before_end]
        start = find_long_form(short, candidate)
        if start is not None:
            long_start = window_start + start
            long = text[long_start:before_end]
            if _acceptable(short, long):
                return sf_start, sf_end, long_start, before_end
    # "SF (long form)": the word before the parenthesis is the SF, the content its LF.
    word = re.search(r"(\S+)$", text[window_start:before_end])
    if word is None or cut is not None:
        return None
    short_start = window_start + word.start(1)
    short = text[short_start:before_end]
    if not is_short_form(short) or not any(c.isupper() or c.isdigit() for c in short):
        return None
    lf_text = text[inner_start:inner_end].strip()
    lf_start = inner_start + len(text[inner_start:inner_end]) - len(
        text[inner_start:inner_end].lstrip())
    start = find_long_form(short, lf_text)
    if start is None or start != 0 or not _acceptable(short, lf_text):
        return None
    return short_start, before_end, lf_start, lf_start + len(lf_text)


def find_abbreviations(text: str, pmid: str = "") -> list[Abbreviation]:
    """Short-form/long-form definitions in a document's text, first definition per SF only.

    Works on the whole text: the LF candidate of a parenthesis starts after the last sentence
    end before it (or after the enclosing open parenthesis, for nested ones).
    """
    found: dict[str, Abbreviation] = {}
    pairs = _close_parens(text)
    for open_, close, depth in pairs:
        if text[open_] != "(" or close - open_ < 2:
            continue
        window_start = 0
        for o, c, _ in pairs:  # the innermost pair enclosing this one bounds the LF
            if o < open_ and close < c:
                window_start = max(window_start, o + 1)
        ends = list(_SENTENCE_END.finditer(text, window_start, open_))
        if ends:
            window_start = ends[-1].end()
        span = _definition(text, window_start, open_, close)
        if span is None:
            continue
        ss, se, ls, le = span
        short = text[ss:se]
        if short not in found:
            found[short] = Abbreviation(pmid, short, text[ls:le], ss, se, ls, le)
    return sorted(found.values(), key=lambda a: a.short_start)


def find_short_form_occurrences(text: str, short: str) -> list[tuple[int, int]]:
    """Every whole-word occurrence of `short` (case-sensitive; a plural "s" is allowed)."""
    out = []
    pattern = re.compile(r"(?<![A-Za-z0-9])" + re.escape(short) + r"(?:s)?(?![A-Za-z0-9])")
    for m in pattern.finditer(text):
        end = m.start() + len(short)
        out.append((m.start(), end))
    return out


def _sentence_index(sentences: Sequence[Sentence], start: int) -> int:
    for s in sentences:
        if s.start <= start < s.end:
            return s.index
    return -1


def _overlaps(m: Mention, start: int, end: int) -> bool:
    return m.start < end and start < m.end


def apply_abbreviations(text: str, mentions: Sequence[Mention],
                        abbreviations: Iterable[Abbreviation],
                        sentences: Sequence[Sentence] = (), *, add_missing: bool = True,
                        fix_types: bool = True, drop_unsupported: bool = True,
                        add_long_forms: bool = True,
                        types: Iterable[str] | None = None) -> list[Mention]:
    """Make a document's mentions agree with its abbreviation definitions.

    For each definition, the type is that of the longest mention ending where the long form
    ends (the LF mention; it may start before the LF: "sodium 2-mercaptoethane sulphonate
    (MESNA)", where the LF found is "2-mercaptoethane sulphonate"). Then every occurrence of the SF gets a mention of that type: mistyped ones are
    retyped (`fix_types`), missing ones added (`add_missing`; score = the LF mention's). SF
    occurrences that a mention already covers partly ("5-FU-induced") are left alone.

    When no mention ends at the LF's end, the LF is not an entity, so neither is its SF:
    mentions exactly on SF occurrences are removed (`drop_unsupported`; "bispectral index
    (BIS)", "spontaneously hypertensive rats (SHR)"). With `drop_unsupported` False they vote
    instead: their majority type is the SF's, every occurrence gets it, and the LF gets a
    mention too (`add_long_forms`). On the BC5CDR development set, dropping scored 1.0 (Chemical)
    and 0.7 (Disease) points of strict F1 above voting, and accepting LF mentions that start
    before the LF 0.3 and 0.1 more.

    Only mentions of `types` are handled; None (the default) handles every type. With the six
    types of the default NER model handled instead of Chemical and Disease alone, BioRED dev
    (the selection set) rose from 84.34 to 85.03 micro F1: "Paget's disease of bone (PDB)"
    retypes the PDB tagged Gene, "otilonium bromide (OB)" the OB tagged Gene, and gene short
    forms of untagged long forms are dropped (Gene precision 80.97 -> 82.81).
    """
    wanted = None if types is None else set(types)

    def handled(m: Mention) -> bool:
        return wanted is None or m.type in wanted

    result = list(mentions)
    pmid = mentions[0].pmid if mentions else ""
    for abbr in abbreviations:
        pmid = abbr.pmid or pmid
        lf_mentions = [m for m in result if handled(m) and m.end == abbr.long_end]
        occurrences = find_short_form_occurrences(text, abbr.short)
        exact = {(m.start, m.end): m for m in result
                 if handled(m) and (m.start, m.end) in set(occurrences)}
        if lf_mentions:
            lf = max(lf_mentions, key=lambda m: m.end - m.start)
            target, score = lf.type, lf.score
        elif exact and drop_unsupported:
            result = [m for m in result if (m.start, m.end) not in exact or not handled(m)]
            continue
        elif exact:
            votes = Counter(m.type for m in exact.values())
            target, _ = votes.most_common(1)[0]
            score = max(m.score for m in exact.values())
            if add_long_forms and not any(_overlaps(m, abbr.long_start, abbr.long_end)
                                          for m in result):
                result.append(Mention(pmid, abbr.long_start, abbr.long_end, abbr.long, target,
                                      score, _sentence_index(sentences, abbr.long_start)))
        else:
            continue
        for start, end in occurrences:
            m = exact.get((start, end))
            if m is not None:
                if fix_types and m.type != target:
                    result[result.index(m)] = replace(m, type=target)
                continue
            if not add_missing or any(_overlaps(o, start, end) for o in result):
                continue
            result.append(Mention(pmid, start, end, text[start:end], target, score,
                                  _sentence_index(sentences, start)))
    return sorted(result, key=lambda m: (m.start, m.end, m.type))


def find_and_apply_abbreviations(article: Article, mentions: Sequence[Mention],
                                 sentences: Sequence[Sentence] | None, *, fix: bool = True
                                 ) -> tuple[list[Mention], list[Abbreviation]]:
    """One document's mentions (sorted; made consistent with its abbreviation definitions when
    `fix`) and the definitions. `sentences` None: split the article when needed."""
    ms = sorted(mentions, key=lambda m: (m.start, m.end, m.type))
    abbrs = find_abbreviations(article.text, article.pmid)
    if fix and abbrs:
        if sentences is None:
            sentences = split_article(article)
        ms = apply_abbreviations(article.text, ms, abbrs, sentences)
    return ms, abbrs


def fix_with_abbreviations(articles: Sequence[Article], mentions: Sequence[Mention]) -> list[Mention]:
    """Mentions made consistent with each document's abbreviation definitions (as `mine` does)."""
    by_pmid: dict[str, list[Mention]] = {}
    for m in mentions:
        by_pmid.setdefault(m.pmid, []).append(m)
    fixed: list[Mention] = []
    for article in articles:
        fixed += find_and_apply_abbreviations(article, by_pmid.pop(article.pmid, []), None)[0]
    for rest in by_pmid.values():  # mentions of documents not given: unchanged
        fixed += rest
    return fixed
