"""What a tagger has done: texts, tokens, batches and seconds per stage (`NerStats`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class NerStats:
    """What a Tagger has done since it was loaded (cumulative; see `since`).

    tokenise_s runs in the background thread, overlapped with model_s: the stages add up to more
    than the wall time when the overlap works.
    """

    texts: int = 0
    tokens: int = 0         # sub-word tokens of the texts, without special tokens
    rows: int = 0           # model inputs: one per text, more for a windowed long text
    batches: int = 0
    padded_tokens: int = 0  # batch cells run through the model (rows x longest, specials included)
    tokenise_s: float = 0.0
    model_s: float = 0.0
    decode_s: float = 0.0

    def since(self, earlier: NerStats) -> dict[str, float]:
        """The difference `self - earlier`, field by field."""
        now, before = asdict(self), asdict(earlier)
        return {k: round(v - before[k], 6) if isinstance(v, float) else v - before[k]
                for k, v in now.items()}

    def copy(self) -> NerStats:
        """A snapshot, to subtract later with `since` or `stage_seconds`."""
        return NerStats(**asdict(self))

    def stage_seconds(self, earlier: NerStats) -> dict[str, float]:
        """Seconds spent since `earlier` as flow timings: ner_tokenise, ner_model, ner_decode."""
        done = self.since(earlier)
        return {f"ner_{stage}": done[f"{stage}_s"] for stage in ("tokenise", "model", "decode")}
