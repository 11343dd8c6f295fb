"""Measure the sentence splitter on PubTator corpora: gold mentions that cross a boundary.

A mention that crosses a sentence boundary cannot be found by a sentence-level NER model, so
the fraction of such mentions bounds the recall the splitter costs. Also prints sentences per
document, sentence lengths in (approximate) wordpiece tokens and the splitting speed.

    python benchmarks/sentence_boundaries.py [FILE.PubTator ...] [--show N] [--tokenizer DIR]
        [--bc2gm train.in]

Without files it reads the BioCreative V CDR training set from ../shared when present.
Token counts are estimated as BERT basic tokens (words and punctuation marks) x 1.3, the
wordpieces per basic token of all-MiniLM-L6-v2's uncased BERT vocabulary measured on the CDR
and BioRED training sentences (1.31; whitespace tokens x 1.5 undercounts: 1.69 measured), or
counted exactly with --tokenizer DIR (a Hugging Face tokenizer on disk).

For scale, the crossing rate of a naive splitter (a boundary after every ". ", "? ", "! ")
is printed too: few gold mentions contain ". ", so the crossing rate alone cannot show a
splitter that splits too often or too rarely. --bc2gm checks the boundaries themselves:
it joins the BioCreative II GM sentences (one MEDLINE sentence per line, "ID text") ten at a
time and reports how many of the joins are found (recall) and how many found boundaries are
joins (precision). Its "sentences" are not perfect: some lines hold two sentences or a title
without a period, so neither figure can reach 100%.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from litmine.tasks.text.sentences import split_sentences

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT = SHARED / "data/corpora/bc5cdr/CDR_TrainingSet.PubTator.txt"
LIMITS = (128, 256, 512)
_FINAL = re.compile(r"[.?!\u2026][\"')\]]*$")
WORDPIECES_PER_BASIC_TOKEN = 1.3  # measured, see the module docstring
_BASIC_TOKEN = re.compile(r"\w+|[^\w\s]")  # BERT's BasicTokenizer: words and single punctuation


Document = tuple[str, str, str, list[tuple[int, int, str]]]  # pmid, title, abstract, mentions


def read_pubtator(path: Path) -> list[Document]:
    """Return (pmid, title, abstract, mentions) per document of a PubTator file.

    A title line ``PMID|t|text`` starts a document; ``PMID|a|text`` is its abstract; mention
    lines are ``PMID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>ids``; relation lines
    (``PMID<TAB>CID<TAB>...``) and blank lines are skipped. CRLF line ends are accepted.
    """
    docs: list[Document] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        head = line[:24]
        if "|t|" in head:
            pmid, _, title = line.partition("|t|")
            docs.append((pmid, title, "", []))
        elif "|a|" in head and docs:
            pmid, title, _, mentions = docs[-1]
            docs[-1] = (pmid, title, line.partition("|a|")[2], mentions)
        elif docs:
            fields = line.split("\t")
            if len(fields) >= 5 and fields[1].isdigit() and fields[2].isdigit():
                docs[-1][3].append((int(fields[1]), int(fields[2]), fields[3]))
    return docs


def split_naively(text: str, title_length: int) -> list[tuple[int, int]]:
    """A baseline: a boundary after the title and after every ". ", "? ", "! "."""
    ends = (m.end() for m in re.finditer(r"[.?!] ", text))
    cuts = sorted({0, title_length + 1, len(text), *ends})
    return list(zip(cuts, cuts[1:]))


def contains(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def measure(path: Path, show: int, count_tokens) -> None:
    """Print crossing mentions, sentences per document, sentence lengths and speed."""
    docs = read_pubtator(path)
    n_mentions = crossing = naive_crossing = 0
    per_doc: list[int] = []
    lengths: list[int] = []
    examples: list[str] = []
    elapsed = 0.0
    for pmid, title, abstract, mentions in docs:
        text = title + " " + abstract
        t0 = time.perf_counter()
        spans = split_sentences(text, len(title))
        elapsed += time.perf_counter() - t0
        per_doc.append(len(spans))
        lengths.extend(count_tokens(text[s:e]) for s, e in spans)
        naive = split_naively(text, len(title))
        for start, end, mention in mentions:
            n_mentions += 1
            naive_crossing += not contains(naive, start, end)
            if not contains(spans, start, end):
                crossing += 1
                if len(examples) < show:
                    examples.append(f"  {pmid} {start}-{end} {mention!r}: "
                                    f"...{text[max(0, start - 60):end + 40]!r}")
    n_chars = sum(len(t) + 1 + len(a) for _, t, a, _ in docs)
    print(f"== {path}")
    print(f"documents {len(docs)}, sentences {len(lengths)}, "
          f"sentences/doc mean {statistics.mean(per_doc):.2f} median {statistics.median(per_doc)} "
          f"max {max(per_doc)}")
    print(f"gold mentions {n_mentions}, crossing a boundary {crossing} "
          f"({100 * crossing / max(n_mentions, 1):.3f}%); naive splitter: {naive_crossing} "
          f"({100 * naive_crossing / max(n_mentions, 1):.3f}%)")
    print(f"sentence tokens: mean {statistics.mean(lengths):.1f}, max {max(lengths)}, "
          + ", ".join(f">{n}: {sum(x > n for x in lengths)}" for n in LIMITS))
    print(f"speed: {n_chars / max(elapsed, 1e-9) / 1e6:.2f} M chars/s "
          f"({1e3 * elapsed / max(len(docs), 1):.3f} ms/doc)")
    for line in examples:
        print(line)


def measure_bc2gm(path: Path, group: int = 10, show: int = 0) -> None:
    """Boundary precision and recall on BioCreative II GM sentences joined `group` at a time."""
    lines = [line.split(" ", 1)[1] for line in path.read_text(encoding="utf-8").splitlines()
             if " " in line]
    found = wrong = missed = unpunctuated = 0
    examples: list[str] = []
    for i in range(0, len(lines), group):
        text = " ".join(lines[i:i + group])
        gold, position = set(), 0
        for sentence in lines[i:i + group - 1]:
            position += len(sentence)
            gold.add(position)
            position += 1
        predicted = {end for _, end in split_sentences(text)[:-1]}
        found += len(gold & predicted)
        for kind, ends in (("extra", predicted - gold), ("missed", gold - predicted)):
            for end in sorted(ends):
                if len(examples) < show:
                    left, right = text[max(0, end - 50):end], text[end:end + 30]
                    examples.append(f"  {kind}: {left!r} | {right!r}")
        wrong += len(predicted - gold)
        missed += len(gold - predicted)
        # Joins after a line without final punctuation (mostly titles) cannot be found by rules.
        unpunctuated += sum(1 for end in gold - predicted if not _FINAL.search(text[:end]))
    print(f"== {path} (sentences joined {group} at a time)")
    print(f"boundaries {found + missed}: found {found}, missed {missed}, extra {wrong}; "
          f"recall {100 * found / max(found + missed, 1):.2f}%, "
          f"precision {100 * found / max(found + wrong, 1):.2f}%")
    print(f"  of the missed, {unpunctuated} follow a line without final punctuation (titles); "
          f"recall after [.?!]: {100 * found / max(found + missed - unpunctuated, 1):.2f}%")
    for line in examples:
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="PubTator files")
    parser.add_argument("--show", type=int, default=0,
                        help="print N crossing mentions per file (and N --bc2gm errors)")
    parser.add_argument("--tokenizer", type=Path, help="count tokens with this HF tokenizer dir")
    parser.add_argument("--bc2gm", type=Path, help="BioCreative II GM train.in: check boundaries")
    args = parser.parse_args(argv)
    files = args.files or ([DEFAULT] if DEFAULT.exists() else [])
    if not files:
        print(f"no PubTator files given and {DEFAULT} does not exist", file=sys.stderr)
        return 2
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(args.tokenizer))

        def count_tokens(s: str) -> int:
            return len(tokenizer.tokenize(s))
        print(f"tokens: {args.tokenizer} wordpieces")
    else:
        def count_tokens(s: str) -> int:
            return round(len(_BASIC_TOKEN.findall(s)) * WORDPIECES_PER_BASIC_TOKEN)
        print(f"tokens: estimated, BERT basic tokens x {WORDPIECES_PER_BASIC_TOKEN}")
    for path in files:
        measure(path, args.show, count_tokens)
    if args.bc2gm:
        measure_bc2gm(args.bc2gm, show=args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
