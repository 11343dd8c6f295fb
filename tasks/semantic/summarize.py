"""Summarise abstracts with a generative language model (causal or sequence-to-sequence).

Any model `generate()` can drive: a seq2seq summariser (BART, T5, PEGASUS: the abstract is the
encoder input, with the config's summarization prefix such as T5's "summarize: ") or a causal LM
(BioGPT, GPT-2: the abstract followed by "TL;DR:", the zero-shot summarisation prompt of Radford
et al. 2019, "Language models are unsupervised multitask learners", section 3.6). Decoding is
beam search with `no_repeat_ngram_size` (Paulus et al. 2018, "A deep reinforced model for
abstractive summarization", which introduced the trigram block); no sampling, so a summary is
reproducible. An input longer than the model's limit keeps its first tokens; the number of
tokens cut is returned and stored with the summary.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pyarrow as pa
import torch

from litmine.errors import LitmineError
from litmine.tasks.loading import load_config, load_pretrained, resolve_model_source

NO_SUMMARY_MODEL = ("summarize: no generative model was given, and none ships with litmine; pass "
                    "--model with a causal or seq2seq LM, e.g. microsoft/biogpt, "
                    "facebook/bart-large-cnn or google/flan-t5-base (hub ID downloaded "
                    "beforehand, or a local directory)")
CAUSAL_PROMPT = "{text}\nTL;DR:"


@dataclass(frozen=True)
class Summary:
    text: str
    input_tokens: int  # tokens of the text the model read (after truncation)
    truncated_tokens: int  # tokens cut from the end of the input to fit the model


class Summarizer:
    """A loaded generative model: causal (BioGPT, GPT-2) or encoder-decoder (BART, T5)."""

    def __init__(self, model: str | None, *, device: str = "auto"):
        if not model:
            raise LitmineError(NO_SUMMARY_MODEL)
        name, source = resolve_model_source(model, "summarize")
        config = load_config(model, source, "summarize")
        self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        loaded = load_pretrained(model, "seq2seq" if self.seq2seq else "causal-lm",
                                 stage="summarize", device=device, check_head=False,
                                 config=config)
        self.model_name, self.config = name, loaded.config
        self._model, self._tokenizer, self.device = loaded.model, loaded.tokenizer, loaded.device
        limits = [x for x in (getattr(config, "max_position_embeddings", None),
                              getattr(config, "n_positions", None)) if x]
        tokenizer_limit = self._tokenizer.model_max_length
        if 0 < tokenizer_limit < 1_000_000:
            limits.append(tokenizer_limit)
        self.max_length = min(limits) if limits else 512
        params = (getattr(config, "task_specific_params", None) or {}).get("summarization", {})
        self.prefix = params.get("prefix", "") if self.seq2seq else ""

    def summarize(self, texts: Sequence[str], *, num_beams: int = 4, no_repeat_ngram_size: int = 3,
                  max_new_tokens: int = 96, min_new_tokens: int = 0, length_penalty: float = 1.0,
                  prompt: str = CAUSAL_PROMPT) -> list[Summary]:
        """One summary per text, by beam search (no sampling)."""
        results = []
        for text in texts:
            ids, new, truncated = self.generate(
                text, num_beams=num_beams, no_repeat_ngram_size=no_repeat_ngram_size,
                max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                length_penalty=length_penalty, prompt=prompt)
            summary = self._tokenizer.decode(new, skip_special_tokens=True).strip()
            results.append(Summary(summary, len(ids), truncated))
        return results

    def generate(self, text: str, *, num_beams: int = 4, no_repeat_ngram_size: int = 3,
                 max_new_tokens: int = 96, min_new_tokens: int = 0, length_penalty: float = 1.0,
                 prompt: str = CAUSAL_PROMPT) -> tuple[list[int], list[int], int]:
        """(input token ids, generated token ids, text tokens cut to fit) for one text."""
        if num_beams < 1 or max_new_tokens < 1 or no_repeat_ngram_size < 0:
            raise LitmineError("summarize: num_beams and max_new_tokens must be at least 1 and "
                               "no_repeat_ngram_size at least 0 (0 turns the n-gram block off)")
        if not self.seq2seq and "{text}" not in prompt:
            raise LitmineError(f"summarize: the prompt {prompt!r} has no {{text}} placeholder")
        tokenizer = self._tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        ids, truncated = self._input_ids(text or "", prompt, max_new_tokens)
        input_ids = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            out = self._model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                num_beams=num_beams, no_repeat_ngram_size=no_repeat_ngram_size,
                max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens,
                length_penalty=length_penalty, early_stopping=num_beams > 1, do_sample=False,
                pad_token_id=pad)
        new = out[0].tolist() if self.seq2seq else out[0][len(ids):].tolist()
        return ids, new, truncated

    def _input_ids(self, text: str, prompt: str, max_new_tokens: int) -> tuple[list[int], int]:
        """The model input for a text, cut to fit; and how many of the text's tokens were cut."""
        tokenizer = self._tokenizer
        if self.seq2seq:
            ids = tokenizer(self.prefix + text)["input_ids"]
            extra = len(ids) - self.max_length
            if extra <= 0:
                return ids, 0
            return tokenizer(self.prefix + text, truncation=True,
                             max_length=self.max_length)["input_ids"], extra
        # Causal: prompt + generated tokens must fit the context window.
        budget = self.max_length - max_new_tokens
        head, _, tail = prompt.partition("{text}")
        around = self._causal_ids(head + tail)
        text_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        room = budget - len(around)
        if room < 1:
            raise LitmineError(f"summarize: model {self.model_name!r} reads {self.max_length} "
                               f"tokens; the prompt and {max_new_tokens} new tokens leave no room "
                               "for the abstract. Lower --max-new-tokens.")
        truncated = max(0, len(text_ids) - room)
        if truncated:
            text = tokenizer.decode(text_ids[:room], skip_special_tokens=True)
        return self._causal_ids(prompt.replace("{text}", text)), truncated

    def _causal_ids(self, prompt: str) -> list[int]:
        """Token ids of a causal prompt, without a trailing end-of-text/[SEP] the tokenizer adds."""
        ids = self._tokenizer(prompt)["input_ids"]
        enders = {self._tokenizer.eos_token_id, self._tokenizer.sep_token_id} - {None}
        while len(ids) > 1 and ids[-1] in enders:
            ids = ids[:-1]
        return ids


def store_summaries(con: duckdb.DuckDBPyConnection, pmids: Sequence[str],
                    summaries: Sequence[Summary], *, model: str, parameters: dict,
                    run_id: str) -> int:
    """Replace this model's summaries of the PMIDs; rows written."""
    now = datetime.now(timezone.utc)
    table = pa.table({
        "pmid": list(pmids), "model": [model] * len(pmids),
        "summary": [s.text for s in summaries],
        "input_tokens": pa.array([s.input_tokens for s in summaries], pa.int32()),
        "truncated_tokens": pa.array([s.truncated_tokens for s in summaries], pa.int32()),
        "parameters": [json.dumps(parameters, sort_keys=True)] * len(pmids),
        "run_id": [run_id] * len(pmids),
        "created_at": pa.array([now] * len(pmids), pa.timestamp("us", tz="UTC"))})
    con.begin()
    try:
        con.register("new_summaries", table)
        con.execute("DELETE FROM summaries WHERE model = ? AND pmid IN "
                    "(SELECT pmid FROM new_summaries)", [model])
        con.execute("INSERT INTO summaries SELECT * FROM new_summaries")
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.unregister("new_summaries")
    return len(pmids)
