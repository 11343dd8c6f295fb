"""Property tests of every per-document stage (issue 21): random but valid documents and random
mention spans never make a stage raise, offsets stay inside the text, outputs are deterministic.

Documents: titles only, empty abstracts, Unicode, repeated whitespace and line breaks, one-
character sentences, tables of numbers (and, in a test of its own, a 100,000-character sentence).
Spans: nested, overlapping, touching, crossing sentence ends, zero-length. Each test runs a fixed,
derandomised set of examples in a few seconds (`SETTINGS`).
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from litmine.tasks.linking.lexicon import Lexicon
from litmine.tasks.linking.normalise import Linker, normalise_document
from litmine.tasks.ner.units import text_units, units_to_mentions
from litmine.tasks.records import Article, Mention
from litmine.tasks.relations.candidates import MAX_EVIDENCE_CHARS, build_candidates, crop, mark_text
from litmine.tasks.relations.linear import load_linear_model
from litmine.tasks.relations.pairs import pair_chemicals_with_diseases
from litmine.tasks.relations.relate import candidate_pairs, relate_articles
from litmine.tasks.text.abbreviations import find_and_apply_abbreviations
from litmine.tasks.text.sentences import split_article

ROOT = Path(__file__).resolve().parents[2]
LINEAR = ROOT / "data" / "models" / "litmine-cid-bc5cdr" / "linear"

#: Fixed seed, bounded examples: the same examples on every run, a few seconds per test.
SETTINGS = settings(derandomize=True, max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

WORDS = ["cisplatin", "nephrotoxicity", "renal", "failure", "Lidocaine", "(LID)", "induced",
         "seizures", "e.g.", "Fig.", "1.", "0.05", "p", "<", "±", "α-synuclein", "β", "Ca2+",
         "NaCl", "mg/kg", "i.p.", "E.", "coli", "METHODS:", "U.S.", "(", ")", "[", "]", ";", ",",
         ".", "?", "!", "...", "’", "“", "”", "naïve", "Ω", "中文", "🙂", "e\u0301", "\u00a0",
         "A", "a", "x", "12", "3.4", "-", "--", "/", "%"]
SPACES = [" ", " ", " ", "  ", "\n", "\n\n", "\t", " . ", ". "]


@st.composite
def texts(draw, min_words: int = 0, max_words: int = 40) -> str:
    """Prose, Unicode, runs of whitespace, one-character sentences or a table of numbers."""
    kind = draw(st.sampled_from(["prose", "prose", "table", "letters", "raw"]))
    if kind == "table":
        rows = draw(st.integers(1, 6))
        cols = draw(st.integers(1, 5))
        cells = draw(st.lists(st.sampled_from(["1", "2.5", "0.05", "±", "n=3", "-", "12.0", "NaCl"]),
                              min_size=rows * cols, max_size=rows * cols))
        return "\n".join("\t".join(cells[r * cols:(r + 1) * cols]) for r in range(rows))
    if kind == "letters":  # sentences of one character
        return " ".join(draw(st.lists(st.sampled_from(["A.", "b.", "1.", "x", "."]),
                                      min_size=min_words, max_size=12)))
    if kind == "raw":
        return draw(st.text(min_size=min_words, max_size=200))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=max_words))
    gaps = draw(st.lists(st.sampled_from(SPACES), min_size=len(words), max_size=len(words)))
    return "".join(w + g for w, g in zip(words, gaps))


@st.composite
def articles(draw) -> Article:
    title = draw(texts(min_words=1, max_words=15))
    abstract = draw(st.one_of(st.just(""), texts()))  # titles only, empty abstracts
    return Article(pmid=str(draw(st.integers(1, 99_999_999))), title=title, abstract=abstract)


TYPES = ["Chemical", "Disease", "Gene"]
IDS = ["D003000", "D051437", "D012640", "D012640|D004827", "-1", "", "D008012"]


@st.composite
def spans(draw, length: int, n_max: int = 12) -> list[tuple[int, int]]:
    """Random spans of a text: nested, overlapping, touching, zero-length, crossing anything."""
    out = []
    for _ in range(draw(st.integers(0, n_max))):
        start = draw(st.integers(0, length))
        shape = draw(st.sampled_from(["any", "zero", "touch", "nest"]))
        if shape == "zero" or not length:
            out.append((start, start))
        elif shape == "touch" and out:
            s = out[-1][1]
            out.append((s, draw(st.integers(s, length))))
        elif shape == "nest" and out:
            s, e = out[-1]
            a = draw(st.integers(s, e))
            out.append((a, draw(st.integers(a, e))))
        else:
            out.append((start, draw(st.integers(start, length))))
    return out


@st.composite
def documents(draw):
    """An article, its sentences and random mentions of it (text = the slice they claim)."""
    article = draw(articles())
    text = article.text
    sentences = split_article(article)
    mentions = []
    for s, e in draw(spans(len(text))):
        index = next((x.index for x in sentences if x.start <= s < x.end), -1)
        mentions.append(Mention(article.pmid, s, e, text[s:e], draw(st.sampled_from(TYPES)),
                                score=0.9, sentence_index=index,
                                concept_id=draw(st.sampled_from(IDS))))
    return article, sentences, mentions


@pytest.fixture(scope="module")
def linker() -> Linker:
    lex = Lexicon()
    lex.add_source("corpus:test")
    for type_, name, cid in [("Chemical", "cisplatin", "D002945"), ("Chemical", "lidocaine", "D008012"),
                             ("Chemical", "NaCl", "D012965"), ("Disease", "seizures", "D012640"),
                             ("Disease", "renal failure", "D051437"),
                             ("Disease", "nephrotoxicity", "D007674")]:
        lex.add(type_, name, cid, "corpus:test")
    return Linker(lex, fuzzy_threshold=0.7)


@pytest.fixture(scope="module")
def linear_model():
    return load_linear_model(LINEAR)[0]


def _inside(text: str, start: int, end: int) -> bool:
    return 0 <= start <= end <= len(text)


@SETTINGS
@given(articles())
def test_sentences_tile_the_text(article):
    text = article.text
    sentences = split_article(article)
    assert sentences == split_article(article)
    previous_end = 0
    for i, s in enumerate(sentences):
        assert s.index == i and previous_end <= s.start < s.end <= len(text)
        assert s.text == text[s.start:s.end] and s.text == s.text.strip()
        assert text[previous_end:s.start].strip() == ""  # no non-space character is lost
        previous_end = s.end
    assert text[previous_end:].strip() == ""
    title_end = len(article.title)
    assert not any(s.start < title_end < s.end for s in sentences)  # the title ends a sentence


@SETTINGS
@given(documents(), st.sampled_from(["sentence", "document"]), st.data())
def test_ner_spans_become_mentions_inside_their_sentence(doc, unit, data):
    article, sentences, _ = doc
    units = text_units(sentences, unit)
    found = [[(a, b, "Chemical", 0.5) for a, b in data.draw(spans(len(u.text), 6))] for u in units]
    mentions = units_to_mentions(units, found)
    by_index = {s.index: s for s in sentences}
    for m in mentions:
        s = by_index[m.sentence_index]
        assert s.start <= m.start < m.end <= s.end
        assert m.text == article.text[m.start:m.end] == m.text.strip()
    assert mentions == units_to_mentions(units, found)


@SETTINGS
@given(documents())
def test_abbreviations_keep_mentions_inside_the_text(doc):
    article, sentences, mentions = doc
    fixed, abbreviations = find_and_apply_abbreviations(article, mentions, sentences)
    text = article.text
    for m in fixed:
        assert _inside(text, m.start, m.end)
    for a in abbreviations:
        assert text[a.short_start:a.short_end] == a.short and text[a.long_start:a.long_end] == a.long
    assert (fixed, abbreviations) == find_and_apply_abbreviations(article, mentions, sentences)


@SETTINGS
@given(doc=documents())
def test_linking_gives_one_link_per_mention(doc, linker):
    article, sentences, mentions = doc
    _, abbreviations = find_and_apply_abbreviations(article, mentions, sentences)
    linked, links = normalise_document(article.text, mentions, linker, abbreviations)
    assert len(linked) == len(links) == len(mentions)
    assert [(m.start, m.end) for m in linked] == [(m.start, m.end) for m in mentions]
    assert (linked, links) == normalise_document(article.text, mentions, linker, abbreviations)


@SETTINGS
@given(documents())
def test_candidates_and_evidence_never_raise(doc):
    article, sentences, mentions = doc
    text = article.text
    candidates = build_candidates(article.pmid, text, sentences, mentions, title_end=len(article.title))
    by_index = {s.index: s for s in sentences}
    for c in candidates:
        for e in c.evidence:
            first, last = by_index[e.sentence_indexes[0]], by_index[e.sentence_indexes[-1]]
            assert e.plain == text[first.start:last.end]
            assert len(e.text) <= max(MAX_EVIDENCE_CHARS + 40, 0) or len(e.plain) <= MAX_EVIDENCE_CHARS
    assert [(c.key, c.evidence) for c in candidates] == [
        (c.key, c.evidence) for c in build_candidates(article.pmid, text, sentences, mentions,
                                                      title_end=len(article.title))]


@SETTINGS
@given(st.data(), texts(min_words=1, max_words=200))
def test_marking_and_cropping_never_raise(data, text):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    raw = data.draw(spans(len(text)))
    typed = [(s, e, data.draw(st.sampled_from(["Chemical", "Disease"]))) for s, e in raw]
    marked = mark_text(text, start, end, typed)
    plain = marked.replace("@ * chemical * ", "").replace("# ^ disease ^ ", "")
    plain = plain.replace(" @", "").replace(" #", "")
    if "@" not in text[start:end] and "#" not in text[start:end]:
        assert plain == text[start:end]  # markers only add: no character lost or repeated
    cropped = crop(marked, 80)
    assert len(cropped) <= max(80, 40 + 80) and cropped in marked


@SETTINGS
@given(docs=st.lists(documents(), min_size=1, max_size=3, unique_by=lambda d: d[0].pmid))
def test_a_batch_is_related_and_paired_without_raising(docs, linker, linear_model):
    articles = [a for a, _, _ in docs]
    sentences = [s for _, ss, _ in docs for s in ss]
    mentions = [m for _, _, ms in docs for m in ms]
    batch = relate_articles(articles, sentences, mentions, linker=linker, relation_model=linear_model)
    texts_by_pmid = {a.pmid: a.text for a in articles}
    for m in batch.mentions:
        assert _inside(texts_by_pmid[m.pmid], m.start, m.end)
    pairs = candidate_pairs(batch.candidates) + pair_chemicals_with_diseases(batch.mentions)
    assert all(0.0 <= (p.score or 0.0) <= 1.0 for p in pairs)
    again = relate_articles(articles, sentences, mentions, linker=linker, relation_model=linear_model)
    assert candidate_pairs(again.candidates) == candidate_pairs(batch.candidates)


def test_a_100k_character_sentence_goes_through_every_stage(linker, linear_model):
    """A table flattened into one sentence (full-text supplements do this): no stage raises and
    every evidence text is cropped to the classifier's size."""
    cells = " ".join(f"cisplatin {i} ± 0.{i % 97} seizures" for i in range(4_000))
    article = Article("1", "Cisplatin and seizures.", cells[:100_000])
    sentences = split_article(article)
    assert max(s.end - s.start for s in sentences) > 50_000
    text = article.text
    starts = [s.start for s in sentences]
    mentions = [Mention("1", m.start(), m.end(), m.group(), type_, concept_id=cid,
                        sentence_index=bisect.bisect_right(starts, m.start()) - 1)
                for word, type_, cid in [("cisplatin", "Chemical", "D002945"),
                                         ("seizures", "Disease", "D012640")]
                for m in re.finditer(word, text)]
    batch = relate_articles([article], sentences, mentions, linker=linker, relation_model=linear_model)
    evidence = [e for c in batch.candidates for e in c.evidence]
    assert evidence and all(len(e.text) <= MAX_EVIDENCE_CHARS + 40 for e in evidence)


@SETTINGS
@given(st.lists(st.tuples(texts(min_words=1, max_words=10), texts(max_words=20)), min_size=2, max_size=5))
def test_full_text_passages_split_apart_and_round_trip_through_pubtator(entries):
    """Random passages (PubTator entries of one PMID): no sentence spans two passages, and a
    document written back and read again has the same passages and text."""
    import io

    from litmine.tasks.sources.pubtator import PubTatorDocument, join_passages, read_pubtator, write_pubtator

    clean = [(" ".join(t.split()) or "x", " ".join(a.split())) for t, a in entries]  # one line each
    clean = [(t, a) for k, (t, a) in enumerate(clean) if (t, a) not in clean[:k]]  # no repeated entry
    doc = join_passages([PubTatorDocument("7", t, a) for t, a in clean])
    article = doc.to_article()
    for s in split_article(article):
        assert any(p.start <= s.start and s.end <= p.end for p in article.passages) or len(clean) == 1
    out = io.StringIO()
    write_pubtator([(article, [])], out)
    (back,), _ = read_pubtator(io.StringIO(out.getvalue()))
    assert (back.text, back.passages) == (doc.text, doc.passages)
