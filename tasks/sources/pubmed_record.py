"""One PubMed XML record (``<PubmedArticle>`` / ``<PubmedBookArticle>``) -> an ``Article``.

Text rules (offsets downstream index ``title + " " + abstract``, so the text stored here is the
truth):

- A text field keeps every character of its element in document order, inline markup (``<i>``,
  ``<b>``, ``<sup>``, ``<sub>``, ``<u>``) and MathML included: ``Cu<sub>2</sub>O`` -> ``Cu2O``.
  Character references and raw UTF-8 decode to the same characters.
- Control characters other than tab, LF and CR (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F,
  U+007F-U+009F) are removed -- raw or as ``&#x1;`` references, which XML 1.0 forbids anyway and
  which would otherwise stop the parser.
- Then every run of whitespace (``str.split``'s definition: Unicode whitespace, no-break and thin
  spaces included) becomes one space, and the ends are stripped.
- A structured abstract is its ``<AbstractText>`` sections joined by one space, each written
  ``"LABEL: text"`` when it has a ``Label`` -- the form of the BioCreative V CDR (BC5CDR) PubTator
  files, e.g. PMID 11752354 ``"BACKGROUND: An association ... mutations METHODS: In a ..."``.
- ``<CopyrightInformation>`` is not part of the abstract; ``<OtherAbstract>`` (translations,
  publisher and plain-language summaries) is ignored. A record without an abstract is kept with
  ``abstract == ""``; one with neither title nor abstract is rejected (nothing to mine).
- Bytes that are not valid UTF-8 become U+10FFFD (``INVALID_BYTE_MARK``) before parsing, so one bad
  byte does not stop a file; a record that would store the mark is rejected, a record whose bad
  bytes sit in a field we do not keep (an affiliation, say) is kept. Files that declare another
  encoding in their XML declaration are passed to the parser as they are.

Unknown elements are ignored. Field choices are documented on ``parse_article``; element meanings
(ValidYN, MedlineDate, Season, AuthorList Type, ...) follow NLM's "MEDLINE/PubMed XML Data
Elements" (https://www.nlm.nih.gov/bsd/licensee/elements_descriptions.html) and the PubMed DTD
(https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd).
"""

from __future__ import annotations

import datetime
import html.entities
import re

from lxml import etree

from litmine.tasks.records import Article, Author
from litmine.tasks.sources.byte_streams import INVALID_BYTE_MARK

__all__ = ["parse_article", "record_pmid", "text_of", "texts_of"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


# ---------------------------------------------------------------------------------------------
# Text and field helpers
# ---------------------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    """Drop control characters, collapse whitespace runs to one space, strip the ends."""
    if not text:
        return ""
    return " ".join(_CONTROL.sub("", text).split())


def _gather(element, parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        if isinstance(child.tag, str):
            _gather(child, parts)
        elif child.tag is etree.Entity:  # an entity the DTD would define: decode HTML names
            parts.append(html.entities.html5.get(f"{child.name};", child.text or ""))
        if child.tail:  # comments and processing instructions give only their tail
            parts.append(child.tail)


def text_of(element) -> str:
    """Return all text inside an element (markup and MathML included), cleaned; "" for None."""
    if element is None:
        return ""
    parts: list[str] = []
    _gather(element, parts)
    return _clean("".join(parts))


def texts_of(elements) -> tuple[str, ...]:
    return tuple(t for t in (text_of(e) for e in elements) if t)


def _pmid(element) -> tuple[str, int]:
    """Return (PMID, version) of a <PMID> element; raise ValueError when missing or not a number."""
    pmid = text_of(element)
    if not pmid:
        raise ValueError("no PMID")
    if not re.fullmatch(r"[0-9]+", pmid):
        raise ValueError(f"PMID {pmid!r} is not a number")
    version = (element.get("Version") or "").strip()
    return pmid, int(version) if version.isascii() and version.isdigit() else 1


def _pub_date(element) -> tuple[str, int | None]:
    """Return ("YYYY" | "YYYY-MM" | "YYYY-MM-DD", year) from a <PubDate>; ("", None) if none.

    Season ("Nov-Dec") is dropped; a MedlineDate ("1998 Dec-1999 Jan") gives its first 4 digits.
    """
    if element is None:
        return "", None
    year = text_of(element.find("Year"))
    if not re.fullmatch(r"[0-9]{4}", year):
        found = re.search(r"[0-9]{4}", text_of(element.find("MedlineDate")))
        return (found.group(), int(found.group())) if found else ("", None)
    month_text = text_of(element.find("Month"))
    month = int(month_text) if month_text.isascii() and month_text.isdigit() else \
        _MONTHS.get(month_text[:3].lower(), 0)
    if not 1 <= month <= 12:
        return year, int(year)
    day_text = text_of(element.find("Day"))
    try:
        day = datetime.date(int(year), month, int(day_text)).day
    except ValueError:
        return f"{year}-{month:02d}", int(year)
    return f"{year}-{month:02d}-{day:02d}", int(year)


def _abstract(element) -> str:
    """Join an <Abstract>'s <AbstractText> sections, each "LABEL: text" when labelled."""
    if element is None:
        return ""
    parts = []
    for section in element.findall("AbstractText"):
        text = text_of(section)
        if text:
            label = _clean(section.get("Label"))
            parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)


def _doi(elocations, article_ids) -> str:
    """First valid <ELocationID EIdType="doi">, else the first <ArticleId IdType="doi">."""
    for element in elocations:
        if element.get("EIdType") == "doi" and element.get("ValidYN", "Y") != "N" and text_of(element):
            return text_of(element)
    for element in article_ids:
        if element.get("IdType") == "doi" and text_of(element):
            return text_of(element)
    return ""


def _authors(author_lists) -> tuple[Author, ...]:
    """Authors of the given <AuthorList>s, skipping those NLM marks ValidYN="N"."""
    authors = []
    for author_list in author_lists:
        for element in author_list.findall("Author"):
            if element.get("ValidYN") == "N":
                continue
            author = Author(
                last_name=text_of(element.find("LastName")),
                fore_name=text_of(element.find("ForeName")) or text_of(element.find("FirstName")),
                initials=text_of(element.find("Initials")),
                collective=text_of(element.find("CollectiveName")),
            )
            if author.last_name or author.fore_name or author.initials or author.collective:
                authors.append(author)
    return tuple(authors)


def _not_editors(author_lists) -> list:
    return [a for a in author_lists if a.get("Type", "authors") != "editors"]


def _check(article: Article) -> Article:
    """Raise ValueError for an article with nothing to mine or with undecodable bytes stored."""
    if not article.title and not article.abstract:
        raise ValueError("no title and no abstract: nothing to mine")
    stored = [article.title, article.abstract, article.journal, article.doi, article.language,
              *article.publication_types, *article.mesh_headings,
              *(a.last_name + a.fore_name + a.initials + a.collective for a in article.authors)]
    if any(INVALID_BYTE_MARK in s for s in stored):
        raise ValueError("its text holds bytes that are not valid UTF-8 (stored as U+10FFFD); "
                         "re-download the file or re-fetch the PMID")
    return article


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------

def parse_article(element, *, source: str = "") -> Article:
    """Build an Article from one <PubmedArticle> or <PubmedBookArticle> element.

    Journal articles: title = ArticleTitle, or VernacularTitle when that is empty; journal =
    Journal/Title; pub_date from JournalIssue/PubDate; DOI from ELocationID, else PubmedData's
    ArticleIdList (never from a ReferenceList); MeSH = DescriptorName texts (qualifiers dropped);
    language = the first Language; authors from Article/AuthorList.

    Books (PubmedBookArticle): title = the chapter's ArticleTitle, else Book/BookTitle (then
    VernacularTitle); journal = BookTitle for a chapter, the publisher's name for a whole book;
    pub_date from Book/PubDate; authors from the AuthorLists that are not Type="editors", the
    document's first, then the book's; no MeSH.

    Raises ValueError (the stream turns it into a Reject) for a record without PMID, or one with
    neither title nor abstract, or with undecodable bytes in a stored field.
    """
    if element.tag == "PubmedBookArticle":
        return _parse_book(element, source)
    if element.tag != "PubmedArticle":
        raise ValueError(f"expected <PubmedArticle> or <PubmedBookArticle>, got <{element.tag}>")
    citation = element.find("MedlineCitation")
    if citation is None:
        raise ValueError("no <MedlineCitation>")
    pmid, version = _pmid(citation.find("PMID"))
    article = citation.find("Article")
    if article is None:
        raise ValueError("no <Article> in <MedlineCitation>")
    pub_date, year = _pub_date(article.find("Journal/JournalIssue/PubDate"))
    return _check(Article(
        pmid=pmid,
        version=version,
        title=text_of(article.find("ArticleTitle")) or text_of(article.find("VernacularTitle")),
        abstract=_abstract(article.find("Abstract")),
        journal=text_of(article.find("Journal/Title")),
        pub_date=pub_date,
        year=year,
        doi=_doi(article.findall("ELocationID"), element.findall("PubmedData/ArticleIdList/ArticleId")),
        publication_types=texts_of(article.findall("PublicationTypeList/PublicationType")),
        mesh_headings=texts_of(citation.findall("MeshHeadingList/MeshHeading/DescriptorName")),
        language=next(iter(texts_of(article.findall("Language"))), ""),
        authors=_authors(article.findall("AuthorList")),
        source=source,
    ))


def _parse_book(element, source: str) -> Article:
    document = element.find("BookDocument")
    if document is None:
        raise ValueError("no <BookDocument>")
    pmid, version = _pmid(document.find("PMID"))
    chapter_title = text_of(document.find("ArticleTitle"))
    book_title = text_of(document.find("Book/BookTitle"))
    pub_date, year = _pub_date(document.find("Book/PubDate"))
    return _check(Article(
        pmid=pmid,
        version=version,
        title=chapter_title or book_title or text_of(document.find("VernacularTitle")),
        abstract=_abstract(document.find("Abstract")),
        journal=book_title if chapter_title else text_of(document.find("Book/Publisher/PublisherName")),
        pub_date=pub_date,
        year=year,
        doi=_doi(document.findall("ELocationID") + document.findall("Book/ELocationID"),
                 document.findall("ArticleIdList/ArticleId")
                 + element.findall("PubmedBookData/ArticleIdList/ArticleId")),
        publication_types=texts_of(document.findall("PublicationType")),
        language=next(iter(texts_of(document.findall("Language"))), ""),
        authors=_authors(_not_editors(document.findall("AuthorList"))
                         or _not_editors(document.findall("Book/AuthorList"))),
        source=source,
    ))


def record_pmid(element) -> str | None:
    """The PMID of a record that failed to parse, when it has a usable one."""
    found = element.find("MedlineCitation/PMID")
    if found is None:
        found = element.find("BookDocument/PMID")
    pmid = text_of(found)
    return pmid if re.fullmatch(r"[0-9]+", pmid) else None
