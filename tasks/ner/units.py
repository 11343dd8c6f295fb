"""What a NER model reads (one sentence, or a run of a document's sentences) and the mentions
its spans give back, with document offsets and sentence indexes."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import NamedTuple

from litmine.tasks.ner.mention_rules import decoded_type, is_plausible
from litmine.tasks.records import Mention, Sentence
from litmine.tasks.text.sentences import join_sentences


class TextUnit(NamedTuple):
    """What a model reads at once: one sentence, or a run of one document's sentences."""

    offset: int  # of `text` in the document
    text: str
    sentences: list[Sentence]


def text_units(sentences: Sequence[Sentence], unit: str = "sentence") -> list[TextUnit]:
    """The texts a model of `unit` ("sentence" or "document") reads for these sentences."""
    if unit != "document":
        return [TextUnit(s.start, s.text, [s]) for s in sentences]
    runs: list[list[Sentence]] = []
    for s in sentences:
        if runs and runs[-1][-1].pmid == s.pmid and runs[-1][-1].end <= s.start:
            runs[-1].append(s)
        else:
            runs.append([s])
    return [TextUnit(*join_sentences(run), run) for run in runs]


def units_to_mentions(units: Sequence[TextUnit],
                      found: Sequence[Sequence[tuple[int, int, str, float]]]) -> list[Mention]:
    """Mentions from each unit's spans; a span across a sentence end becomes one mention per
    sentence it touches (trimmed), each with its sentence's index. Implausible ones are
    dropped and cell lines tagged as variants retyped (`litmine.tasks.ner.mention_rules`)."""
    mentions = []
    for unit, spans in zip(units, found):
        run = unit.sentences
        starts = [s.start for s in run]
        for a, b, etype, score in spans:
            start, end = unit.offset + a, unit.offset + b
            k = max(0, bisect.bisect_right(starts, start) - 1)
            while k < len(run) and run[k].start < end:
                s = run[k]
                k += 1
                lo, hi = max(start, s.start) - s.start, min(end, s.end) - s.start
                piece = s.text[lo:hi] if lo < hi else ""
                text = piece.strip()
                if not text or not is_plausible(text, etype):
                    continue
                lo += len(piece) - len(piece.lstrip())
                mentions.append(Mention(pmid=s.pmid, start=s.start + lo,
                                        end=s.start + lo + len(text), text=text,
                                        type=decoded_type(text, etype), score=score,
                                        sentence_index=s.index))
    return mentions
