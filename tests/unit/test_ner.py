"""The NER stage with real (tiny) models on disk: loading, batching, windowing, offsets, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from litmine.errors import ModelError
from litmine.tasks.ner.labels import canonical_type
from litmine.tasks.ner.mention_rules import is_plausible
from litmine.tasks.ner.engine import (
    NerStats,
    Tagger,
    load_tagger,
    plan_batches,
    plan_windows,
    tag_entities,
)
from litmine.tasks.cpu_features import default_cpu_dtype
from litmine.tasks.loading import resolve_dtype
from litmine.tasks.records import Sentence
from tests.support.tiny_models import LOOKUP, build_lookup_model

#: 300 one-token words: more than the tiny model's 128 positions.
WORDS = ["the", "cat", "sat", "on", "a", "mat", "today"]
LONG_TEXT = " ".join(WORDS[i % len(WORDS)] for i in range(300))


@pytest.fixture(scope="module")
def tiny_ner_model(tmp_path_factory) -> Path:
    """The engine's tests want a busy random tagger: no bias towards "O" (conftest's has one)."""
    from tests.conftest import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("busy-ner"), o_bias=0.0)


@pytest.fixture(scope="module")
def lookup_model(tiny_ner_model, tmp_path_factory) -> Path:
    return build_lookup_model(tiny_ner_model, tmp_path_factory.mktemp("lookup") / "m", LOOKUP)


@pytest.fixture(scope="module")
def tagger(tiny_ner_model) -> Tagger:
    return load_tagger(str(tiny_ner_model), device="cpu", dtype="fp32")


@pytest.fixture(scope="module")
def lookup(lookup_model) -> Tagger:
    """fp32 on every CPU ("auto" is bf16 where AMX or AVX512-BF16 is): the reference."""
    return load_tagger(str(lookup_model), device="cpu", dtype="fp32")


def spans_of(tagger: Tagger, text: str, **kw) -> list[tuple[str, str]]:
    return [(text[s:e], t) for s, e, t, _ in tagger.tag_texts([text], **kw)[0]]


# --- planning (pure) -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("n", "width", "stride", "expected"),
    [
        (0, 126, 32, []),
        (5, 126, 32, [(0, 5)]),
        (126, 126, 32, [(0, 126)]),
        (127, 126, 32, [(0, 126), (1, 127)]),
        (300, 126, 32, [(0, 126), (94, 220), (174, 300)]),
        (10, 4, 0, [(0, 4), (4, 8), (6, 10)]),
    ],
)
def test_plan_windows(n, width, stride, expected):
    windows = plan_windows(n, width, stride)
    assert windows == expected
    covered = set().union(*(range(s, e) for s, e in windows)) if windows else set()
    assert covered == set(range(n))


def test_plan_windows_rejects_stride_not_below_width():
    with pytest.raises(ValueError, match="stride"):
        plan_windows(300, 126, 126)


def test_plan_batches_respects_token_budget_longest_first():
    lengths = [5, 40, 12, 40, 3, 100, 7, 7, 300]
    batches = plan_batches(lengths, 100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert lengths[batch[0]] == longest
        assert len(batch) == 1 or len(batch) * longest <= 100
    assert [8] in batches  # longer than the budget: alone


# --- tagging with real models ----------------------------------------------------------------

def test_lookup_model_tags_expected_spans(lookup):
    text = "Naloxone and lithium cause heart failure, renal failure and tremor."
    result = lookup.tag_texts([text])[0]
    # The lookup model tags "failure" I-Disease everywhere and "renal" O: word by word ("first")
    # that "I" starts an entity; the default decoding takes the best sequence BIO allows, where
    # "renal" is B-Disease.
    assert [(text[s:e], t) for s, e, t, _ in result] == [
        ("Naloxone", "Chemical"), ("lithium", "Chemical"), ("heart failure", "Disease"),
        ("renal failure", "Disease"), ("tremor", "Disease")]
    assert spans_of(lookup, text, aggregation="first")[3] == ("failure", "Disease")
    assert all(score > 0.99 for *_, score in result[:3])
    assert lookup.types == ("Chemical", "Disease")


def test_mentions_carry_document_offsets(lookup):
    title = "Lithium and tremor."
    abstract = "We saw heart failure.  Naloxone helped."
    doc = title + " " + abstract
    bounds = [(0, len(title)), (len(title) + 1, len(title) + 22), (len(title) + 24, len(doc))]
    sentences = [Sentence("123", i, s, e, doc[s:e]) for i, (s, e) in enumerate(bounds)]
    mentions = lookup.tag(sentences)
    assert [(m.text, m.type, m.sentence_index) for m in mentions] == [
        ("Lithium", "Chemical", 0), ("tremor", "Disease", 0), ("heart failure", "Disease", 1),
        ("Naloxone", "Chemical", 2)]
    for m in mentions:
        sentence = sentences[m.sentence_index]
        assert m.pmid == "123"
        assert doc[m.start:m.end] == m.text
        assert sentence.text[m.start - sentence.start:m.end - sentence.start] == m.text


def test_random_model_offsets_index_the_document(tagger):
    doc = ("Cisplatin-induced nephrotoxicity in rats. Naloxone (0.4 mg/kg) reversed the "
           "clonidine-induced hypotension; β-blockers did not.  Café au lait spots were seen.")
    starts = [0, 42, 126]
    bounds = list(zip(starts, starts[1:] + [len(doc)]))
    sentences = [Sentence("9", i, s, e, doc[s:e]) for i, (s, e) in enumerate(bounds)]
    mentions = tagger.tag(sentences)
    assert mentions, "the random tiny model tags something"
    for m in mentions:
        assert doc[m.start:m.end] == m.text
        assert m.text == m.text.strip() and m.text
        assert bounds[m.sentence_index][0] <= m.start < m.end <= bounds[m.sentence_index][1]
        assert m.type in ("Chemical", "Disease")
        assert 0.0 < m.score <= 1.0


def _as_document_model(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest)
    config = json.loads((dest / "config.json").read_text())
    (dest / "config.json").write_text(json.dumps(config | {"litmine_unit": "document"}))
    return dest


def test_document_unit_model_tags_whole_documents(lookup_model, tiny_ner_model, tmp_path):
    from litmine.tasks.text.sentences import join_sentences

    title = "Lithium and tremor."
    abstract = "We saw heart failure.  Naloxone helped. Heart\nfailure too."
    doc = title + " " + abstract
    cuts = [(0, len(title)), (len(title) + 1, len(title) + 22), (len(title) + 24, len(title) + 40),
            (len(title) + 41, len(title) + 46), (len(title) + 47, len(doc))]
    sentences = [Sentence("123", i, s, e, doc[s:e]) for i, (s, e) in enumerate(cuts)]
    assert [s.text for s in sentences][3:] == ["Heart", "failure too."]
    # a context-free model finds the same mentions either way; a span across a sentence end
    # ("Heart" + "failure") is cut into one mention per sentence
    by_doc = load_tagger(str(_as_document_model(lookup_model, tmp_path / "lk")), device="cpu")
    assert by_doc.unit == "document" and load_tagger(str(lookup_model)).unit == "sentence"
    found = [(m.text, m.type, m.sentence_index) for m in by_doc.tag(sentences)]
    assert found == [("Lithium", "Chemical", 0), ("tremor", "Disease", 0),
                     ("heart failure", "Disease", 1), ("Naloxone", "Chemical", 2),
                     ("Heart", "Disease", 3), ("failure", "Disease", 4)]
    # a random model sees the whole document as one text: its spans are those of that text
    random_doc = load_tagger(str(_as_document_model(tiny_ner_model, tmp_path / "rd")),
                             device="cpu")
    start, text = join_sentences(sentences)
    assert text == doc.replace("\n", " ")
    mentions = random_doc.tag(sentences + [Sentence("456", 0, 0, 5, "Other")])
    assert mentions and {m.pmid for m in mentions} <= {"123", "456"}
    for m in mentions:
        if m.pmid == "123":
            s = sentences[m.sentence_index]
            assert s.start <= m.start < m.end <= s.end and doc[m.start:m.end] == m.text
    whole = {(start + a, start + b, t) for a, b, t, _ in random_doc.tag_texts([text])[0]}
    inside = {(m.start, m.end) for m in mentions if m.pmid == "123"}
    expected = set()
    for a, b, etype in whole:  # each whole-text span, cut at sentence ends and trimmed
        for s in sentences:
            lo, hi = max(a, s.start), min(b, s.end)
            piece = doc[lo:hi] if lo < hi else ""
            if piece.strip() and is_plausible(piece.strip(), etype):
                lo += len(piece) - len(piece.lstrip())
                expected.add((lo, lo + len(piece.strip())))
    assert inside == expected


def test_token_budget_batching_matches_one_at_a_time(tagger):
    texts = ["Lithium.", "", "Naloxone reversed clonidine-induced hypotension in rats. " * 3,
             LONG_TEXT, "Heart failure", "A " * 60, "Cisplatin nephrotoxicity."]
    together = tagger.tag_texts(texts, max_batch_tokens=8192)
    tiny_batches = tagger.tag_texts(texts, max_batch_tokens=64)
    alone = [tagger.tag_texts([t])[0] for t in texts]
    for got in (together, tiny_batches):
        assert [[s[:3] for s in r] for r in got] == [[s[:3] for s in r] for r in alone]
        for r, a in zip(got, alone):
            assert [s[3] for s in r] == pytest.approx([s[3] for s in a], abs=1e-5)
    assert any(alone)


def test_results_follow_input_order(tagger):
    texts = ["Short.", LONG_TEXT, "Naloxone reversed clonidine-induced hypotension.", "A b."]
    forward = tagger.tag_texts(texts)
    backward = tagger.tag_texts(texts[::-1])
    assert backward[::-1] == forward


def test_long_sentence_windows_match_the_model_on_each_part(tagger, tiny_ner_model):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_ner_model)
    ids = tokenizer(LONG_TEXT, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(ids) == 300 and tagger.max_length == 128
    model = AutoModelForTokenClassification.from_pretrained(tiny_ner_model).eval()

    def direct(start: int, end: int) -> np.ndarray:
        row = torch.tensor([[tokenizer.cls_token_id, *ids[start:end], tokenizer.sep_token_id]])
        with torch.no_grad():
            return model(input_ids=row).logits.softmax(-1)[0, 1:-1].numpy()

    pred = tagger.predict_tokens([LONG_TEXT], stride=32)[0]
    assert pred.probs.shape == (300, 5)
    assert np.allclose(pred.probs.sum(1), 1.0, atol=1e-5)  # every token has a prediction
    # windows (0,126), (94,220), (174,300); each token from the window where it is farthest
    # from a cut: tokens up to 109 from the first, 110..196 from the second, the rest the third.
    first, second, third = direct(0, 126), direct(94, 220), direct(174, 300)
    assert np.allclose(pred.probs[:110], first[:110], atol=1e-5)
    assert np.allclose(pred.probs[110:197], second[16:103], atol=1e-5)
    assert np.allclose(pred.probs[197:], third[23:], atol=1e-5)
    assert pred.offsets[-1][1] == len(LONG_TEXT)


def test_entities_found_anywhere_in_a_600_token_sentence(lookup):
    words = ["the"] * 600
    words[0], words[350], words[599] = "lithium", "tremor", "lithium"
    text = " ".join(words)
    result = lookup.tag_texts([text])[0]
    assert [(text[s:e], t, s) for s, e, t, _ in result] == [
        ("lithium", "Chemical", 0), ("tremor", "Disease", len(" ".join(words[:350])) + 1),
        ("lithium", "Chemical", len(text) - len("lithium"))]


def test_label_map_renames_and_drops(lookup_model):
    tagger = load_tagger(str(lookup_model), device="cpu", label_map={"Chemical": None,
                                                                   "Disease": "Condition"})
    assert tagger.types == ("Condition",)
    assert spans_of(tagger, "Lithium causes tremor.") == [("tremor", "Condition")]


def test_cache_returns_the_same_tagger(lookup_model, lookup):
    assert load_tagger(str(lookup_model), device="cpu", dtype="FP32") is lookup
    assert load_tagger(str(lookup_model) + "/", device="cpu", dtype="fp32") is lookup
    # no dtype is "auto": this CPU's default (bf16 with AMX or AVX512-BF16), one cache entry
    assert (load_tagger(str(lookup_model), device="cpu")
            is load_tagger(str(lookup_model), device="cpu", dtype=default_cpu_dtype()))
    other = load_tagger(str(lookup_model), device="cpu", dtype="fp32", label_map={"Disease": None})
    assert other is not lookup
    assert other._model is lookup._model  # one model in memory, two label mappings


def test_threads_share_one_tagger_and_tag_alike(lookup_model):
    from concurrent.futures import ThreadPoolExecutor

    texts = ["Naloxone and lithium cause heart failure.", LONG_TEXT, "Tremor."] * 3
    with ThreadPoolExecutor(4) as pool:
        taggers = list(pool.map(lambda _: load_tagger(str(lookup_model), device="cpu",
                                                      label_map={"Modifier": "Disease"}),
                                range(8)))
        assert all(t is taggers[0] for t in taggers)
        results = list(pool.map(lambda _: taggers[0].tag_texts(texts), range(4)))
    assert all(r == results[0] for r in results)
    assert results[0][0] == taggers[0].tag_texts(texts[:1])[0]


def test_nothing_to_tag(lookup):
    assert lookup.tag([]) == []
    assert lookup.tag_texts(["", "   "]) == [[], []]


def test_model_id_fingerprints_the_checkpoint(tagger, lookup, lookup_model):
    assert lookup.model_name == str(lookup_model)
    assert lookup.model_id.startswith(str(lookup_model) + "@")
    assert tagger.model_id.split("@")[1] != lookup.model_id.split("@")[1]


def test_model_id_is_the_same_in_every_copy_and_changes_with_the_weights(tiny_ner_model,
                                                                         tmp_path):
    """Content, not file times: a clone or copy of a model keeps its ID (stored rows stay
    attributable), and changed weights of the same size give a new one."""
    from litmine.tasks.loading import fingerprint_model

    copy = tmp_path / "copy"
    copy.mkdir()
    for f in tiny_ner_model.iterdir():
        shutil.copyfile(f, copy / f.name)  # new mtimes, same bytes
    assert fingerprint_model(str(copy)) == fingerprint_model(str(tiny_ner_model))
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte different
    weights.write_bytes(bytes(data))
    assert fingerprint_model(str(copy)) != fingerprint_model(str(tiny_ner_model))


def test_tag_entities_task_runs_the_plain_function(lookup_model):
    sentences = [Sentence("1", 0, 0, 22, "Lithium causes tremor.")]
    mentions = tag_entities.fn(sentences, str(lookup_model), "cpu")
    assert [(m.text, m.type) for m in mentions] == [("Lithium", "Chemical"), ("tremor", "Disease")]


# --- errors -----------------------------------------------------------------------------------

def test_missing_model_directory(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match="does not exist") as err:
        load_tagger(str(missing), device="cpu")
    assert str(missing) in str(err.value)


def test_directory_without_config(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        load_tagger(str(tmp_path), device="cpu")


def test_hub_id_offline_names_the_model_and_the_fix():
    with pytest.raises(ModelError, match="litmine-tests/no-such-model") as err:
        load_tagger("litmine-tests/no-such-model", device="cpu")
    assert "hf download" in str(err.value)


def _save_other_model(tiny_ner_model: Path, dest: Path, cls_name: str) -> Path:
    import transformers

    config = transformers.AutoConfig.from_pretrained(tiny_ner_model)
    getattr(transformers, cls_name)(config).save_pretrained(dest)
    transformers.AutoTokenizer.from_pretrained(tiny_ner_model).save_pretrained(dest)
    return dest


@pytest.mark.parametrize("cls_name", ["BertModel", "BertForSequenceClassification"])
def test_not_a_token_classifier(tiny_ner_model, tmp_path, cls_name):
    path = _save_other_model(tiny_ner_model, tmp_path / cls_name, cls_name)
    with pytest.raises(ModelError, match=f"is a {cls_name}, not a token classifier"):
        load_tagger(str(path), device="cpu")


def test_checkpoint_without_head_and_without_architectures(tiny_ner_model, tmp_path):
    path = _save_other_model(tiny_ner_model, tmp_path / "bare", "BertModel")
    config = json.loads((path / "config.json").read_text())
    del config["architectures"]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="no trained token-classification head"):
        load_tagger(str(path), device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu(tiny_ner_model):
    with pytest.raises(ModelError, match="no CUDA GPU"):
        load_tagger(str(tiny_ner_model), device="cuda")


@pytest.mark.parametrize(("device", "dtype", "match"), [("tpu", None, "unknown device"),
                                                        ("cpu", "int4", "unknown dtype")])
def test_bad_device_or_dtype(tiny_ner_model, device, dtype, match):
    with pytest.raises(ModelError, match=match):
        load_tagger(str(tiny_ner_model), device=device, dtype=dtype)


# --- the engine: same results whatever the batching, threads and precision --------------------

MIXED = ["Lithium.", "", "Naloxone reversed clonidine-induced hypotension in rats. " * 3,
         LONG_TEXT, "Heart failure", "A " * 60, "Cisplatin nephrotoxicity.", "   ",
         "Café-au-lait spots (β-blockers, 5 mg/kg) and IL-6.", "tremor " * 40]


def assert_same_spans(got, expected):
    assert [[s[:3] for s in r] for r in got] == [[s[:3] for s in r] for r in expected]
    for r, e in zip(got, expected):
        assert [s[3] for s in r] == pytest.approx([s[3] for s in e], abs=1e-5)


@pytest.mark.parametrize("kw", [
    {"max_batch_tokens": 32}, {"max_batch_tokens": 200, "workers": 2},
    {"max_batch_tokens": 1_000_000}, {"workers": 1}, {"workers": 3}, {"chunk_texts": 1},
    {"chunk_texts": 3, "workers": 2, "max_batch_tokens": 150}, {"stride": 32, "workers": 2},
])
def test_engine_settings_do_not_change_results(tagger, kw):
    alone = [tagger.tag_texts([t], workers=1)[0] for t in MIXED]
    assert_same_spans(tagger.tag_texts(MIXED, **kw), alone)
    assert sum(map(len, alone)) > 10  # the random tiny model tags plenty


def test_simple_aggregation_equals_transformers_pipeline(tiny_ner_model, tagger):
    from transformers import pipeline

    texts = [t for t in MIXED if t.strip() and t is not LONG_TEXT]  # the pipeline truncates
    ner = pipeline("token-classification", model=str(tiny_ner_model), device=-1,
                   aggregation_strategy="simple", batch_size=4)
    expected = [[(int(e["start"]), int(e["end"]), canonical_type(e["entity_group"]),
                  float(e["score"])) for e in found] for found in ner(texts)]
    got = tagger.tag_texts(texts, aggregation="simple")
    assert_same_spans(got, expected)
    assert sum(map(len, got)) > 10


def test_first_and_simple_differ_only_inside_words(lookup):
    text = "Naloxone helps."  # na ##lo ##xon ##e: B-Chemical O B-Disease O
    assert spans_of(lookup, text) == [("Naloxone", "Chemical")]
    assert spans_of(lookup, text, aggregation="simple") == [("Na", "Chemical"),
                                                            ("xon", "Disease")]


def test_pipeline_truncates_where_the_engine_windows(lookup_model, lookup):
    from transformers import pipeline

    words = ["the"] * 200
    words[0], words[-1] = "lithium", "tremor"
    text = " ".join(words)
    ner = pipeline("token-classification", model=str(lookup_model), device=-1,
                   aggregation_strategy="simple")
    assert [(e["word"], e["entity_group"]) for e in ner(text)] == [("lithium", "Chemical")]
    assert spans_of(lookup, text, aggregation="simple") == [("lithium", "Chemical"),
                                                            ("tremor", "Disease")]


def test_unknown_aggregation(lookup):
    with pytest.raises(ValueError, match="aggregation"):
        lookup.tag_texts(["Lithium."], aggregation="max")


@pytest.mark.parametrize(("dtype", "device", "expected"), [
    ("fp32", "cpu", torch.float32), (None, "cuda", torch.float16), ("bf16", "cpu", torch.bfloat16),
    ("FP16", "cuda:1", torch.float16), ("int8", "cpu", torch.qint8), ("fp32", "cuda", torch.float32),
])
def test_resolve_dtype(dtype, device, expected):
    assert resolve_dtype(dtype, torch.device(device)) == expected


def test_int8_runs_on_cpu_only():
    with pytest.raises(ModelError, match="CPU only"):
        resolve_dtype("int8", torch.device("cuda"))


def test_int8_is_opt_in_and_named(lookup_model, lookup):
    from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

    quantized = load_tagger(str(lookup_model), device="cpu", dtype="int8")
    assert quantized is not lookup
    assert quantized.model_id == lookup.model_id + "+int8"
    assert any(isinstance(m, QuantizedLinear) for m in quantized._model.modules())
    assert not any(isinstance(m, QuantizedLinear) for m in lookup._model.modules())
    text = "Naloxone and lithium cause heart failure, renal failure and tremor."
    assert spans_of(quantized, text, workers=2) == spans_of(lookup, text)


def test_bf16_on_cpu_tags_like_fp32(lookup_model, lookup):
    half = load_tagger(str(lookup_model), device="cpu", dtype="bf16")
    assert next(half._model.parameters()).dtype == torch.bfloat16
    text = "Naloxone and lithium cause heart failure, renal failure and tremor."
    assert spans_of(half, text) == spans_of(lookup, text)
    assert half.dtype_name == "bf16" and lookup.dtype_name == "fp32"


def test_bf16_probabilities_follow_fp32(tiny_ner_model, tagger):
    """The random tiny model in bf16: every token's label probabilities stay within 0.05 of
    fp32's. (A random model's labels are near-ties, so its argmaxes are no test; the lookup
    model's spans above are, and the shipped model agreed on 99.97% of tokens in issue 18.)"""
    half = load_tagger(str(tiny_ner_model), device="cpu", dtype="bf16")
    assert next(half._model.parameters()).dtype == torch.bfloat16
    texts = ["Naloxone reverses the antihypertensive effect of clonidine.",
             "Lithium-induced tremor and renal failure in a patient with bipolar disorder.",
             "Cisplatin nephrotoxicity was reduced by magnesium supplementation in mice."]
    rows = [[*tagger._prefix, *tagger._tokenizer.encode(t, add_special_tokens=False).ids,
             *tagger._suffix] for t in texts]
    width = max(map(len, rows))
    ids = torch.tensor([r + [tagger._pad_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    full, _ = tagger._forward((ids, mask))
    low, _ = half._forward((ids, mask))
    real = mask.numpy().astype(bool)
    assert real.sum() >= 40  # every real token of three sentences is compared
    assert np.abs(full[real] - low[real]).max() < 0.05


def test_stats_count_the_work(lookup):
    before = NerStats(**vars(lookup.stats))
    lookup.tag_texts(["Lithium causes tremor.", LONG_TEXT, ""], max_batch_tokens=256)
    done = lookup.stats.since(before)
    assert (done["texts"], done["tokens"], done["rows"]) == (3, 4 + 300, 1 + 3)
    assert done["padded_tokens"] >= done["tokens"] + 2 * done["rows"]
    assert done["batches"] >= 2  # 128-token windows, 256-token budget
    assert done["model_s"] > 0 and done["tokenise_s"] > 0 and done["decode_s"] > 0


def test_workers_use_one_torch_thread_each_and_restore(tagger):
    threads = torch.get_num_threads()
    stream = tagger.iter_predictions(MIXED * 5, workers=2, max_batch_tokens=64, chunk_texts=4)
    first = next(stream)
    assert torch.get_num_threads() == 1
    stream.close()  # stops the tokenising thread and the workers; must not hang
    assert torch.get_num_threads() == threads
    assert len(first.offsets) == 2  # "Lithium." -> lithium .
    import threading
    assert not [t for t in threading.enumerate() if t.name.startswith("litmine-ner")]


def test_errors_in_the_tokenising_thread_surface(tagger):
    threads = torch.get_num_threads()
    with pytest.raises(TypeError):
        tagger.tag_texts(["Lithium.", 42], workers=2)
    assert torch.get_num_threads() == threads


# --- ensembles ---------------------------------------------------------------------------------

def test_ensemble_of_a_model_with_itself_tags_as_the_model(lookup_model, tmp_path):
    from litmine.tasks.ner.ensemble import EnsembleTagger, write_ensemble

    path = write_ensemble(tmp_path / "ens", [lookup_model, lookup_model], weights=[1, 3])
    assert json.loads((path / "litmine-ensemble.json").read_text())["members"][0].startswith("..")
    ensemble = load_tagger(str(path), device="cpu")
    single = load_tagger(str(lookup_model), device="cpu")
    assert isinstance(ensemble, EnsembleTagger) and ensemble.weights == [0.25, 0.75]
    assert ensemble.types == single.types and "ensemble(" in ensemble.model_id
    doc = "Lithium and tremor. We saw heart failure.  Naloxone helped."
    sentences = [Sentence("1", 0, 0, 19, doc[:19]), Sentence("1", 1, 20, 41, doc[20:41]),
                 Sentence("1", 2, 43, len(doc), doc[43:])]
    assert ensemble.tag(sentences) == single.tag(sentences)
    assert ensemble.tag_texts([doc]) == [[(s, e, t, pytest.approx(p)) for s, e, t, p in
                                          single.tag_texts([doc])[0]]]
    before = ensemble.stats.copy()
    ensemble.tag(sentences)
    assert ensemble.stats.since(before)["texts"] == 6  # the (one, cached) member read them twice


def test_ensemble_averages_members_that_read_different_units(lookup_model, tiny_ner_model,
                                                             tmp_path):
    """A sentence model and a document model: the result is the decoding of the weighted mean
    of their probabilities, matched token by token through document offsets."""
    from litmine.tasks.ner.labels import decode_spans
    from litmine.tasks.ner.units import text_units, units_to_mentions
    from litmine.tasks.ner.ensemble import write_ensemble

    doc_model = _as_document_model(tiny_ner_model, tmp_path / "doc")
    ensemble = load_tagger(str(write_ensemble(tmp_path / "ens", [lookup_model, doc_model])),
                           device="cpu")
    sent, whole = load_tagger(str(lookup_model)), load_tagger(str(doc_model))
    doc = "Naloxone reversed the clonidine-induced hypotension. Lithium caused tremor."
    sentences = [Sentence("7", 0, 0, 52, doc[:52]), Sentence("7", 1, 53, len(doc), doc[53:])]
    a = sent.predict_tokens([s.text for s in sentences])
    (b,) = whole.predict_tokens([doc])
    by_start = {int(o[0]): p for o, p in zip(b.offsets, b.probs)}
    expected = []
    for s, p in zip(sentences, a):
        mean = np.stack([(q + by_start[s.start + int(o[0])]) / 2 for o, q in zip(p.offsets, p.probs)])
        expected.append(decode_spans(s.text, p.offsets, p.word_ids, mean, sent.table))
    want = units_to_mentions(text_units(sentences), expected)
    assert ensemble.tag(sentences) == want


@pytest.mark.parametrize(("spec", "match"), [
    ('{"members": ["a"]}', "two or more"),
    ('{"members": ["a", "b"], "weights": [1]}', "positive numbers"),
    ('{"models": []}', "not a valid ensemble"),
    ("not json", "not a valid ensemble"),
])
def test_bad_ensemble_files(tmp_path, spec, match):
    (tmp_path / "litmine-ensemble.json").write_text(spec)
    with pytest.raises(ModelError, match=match):
        load_tagger(str(tmp_path), device="cpu")


def test_ensemble_members_must_share_labels(lookup_model, tmp_path):
    from litmine.tasks.ner.ensemble import write_ensemble

    other = tmp_path / "other"
    shutil.copytree(lookup_model, other)
    config = json.loads((other / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-Gene", "2": "I-Gene", "3": "B-Disease",
                          "4": "I-Disease"}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="different labels"):
        load_tagger(str(write_ensemble(tmp_path / "ens", [lookup_model, other])), device="cpu")


def test_token_states_come_from_the_same_pass(tiny_ner_model, tagger):
    """`states_layer` keeps each token's hidden state of the tagging pass: for a long sentence,
    from the window each token's labels come from; per document, in document order, with
    document offsets; the mentions are the same as without."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_ner_model)
    model = AutoModelForTokenClassification.from_pretrained(tiny_ner_model).eval()
    ids = tokenizer(LONG_TEXT, add_special_tokens=False, verbose=False)["input_ids"]

    def direct(start: int, end: int, layer: int) -> torch.Tensor:
        row = torch.tensor([[tokenizer.cls_token_id, *ids[start:end], tokenizer.sep_token_id]])
        with torch.no_grad():
            return model(input_ids=row, output_hidden_states=True).hidden_states[layer][0, 1:-1]

    pred = tagger.predict_tokens([LONG_TEXT], stride=32, states_layer=1)[0]
    assert pred.states.shape == (300, model.config.hidden_size)
    assert torch.allclose(pred.states[:110], direct(0, 126, 1)[:110], atol=1e-4)
    assert torch.allclose(pred.states[110:197], direct(94, 220, 1)[16:103], atol=1e-4)
    assert torch.allclose(pred.states[197:], direct(174, 300, 1)[23:], atol=1e-4)
    assert tagger.predict_tokens([LONG_TEXT])[0].states is None  # not asked: not kept

    text = "Lithium causes tremor. " + LONG_TEXT
    sentences = [Sentence("1", 0, 0, 22, text[:22]), Sentence("1", 1, 23, len(text), text[23:]),
                 Sentence("2", 0, 0, 7, "Lithium")]
    plain = tagger.tag_documents(sentences)
    kept = tagger.tag_documents(sentences, states_layer=2)
    assert kept.mentions == plain.mentions and plain.states == {}
    doc = kept.states["1"]
    first = tokenizer(text[:22], add_special_tokens=False)["input_ids"]
    n = len(first)
    assert doc.layer == 2 and doc.model_id == tagger.model_id
    assert len(doc) == doc.states.shape[0] == n + 300
    assert doc.offsets[n, 0] == 23 and doc.offsets[-1, 1] == len(text)
    assert (np.diff(doc.offsets[:, 0]) > 0).all()  # document order
    row = torch.tensor([[tokenizer.cls_token_id, *first, tokenizer.sep_token_id]])
    with torch.no_grad():
        alone = model(input_ids=row, output_hidden_states=True).hidden_states[2][0, 1:-1]
    assert torch.allclose(doc.states[:n], alone, atol=1e-4)
    covered = doc.token_range(8, 14)  # "causes"
    assert covered is not None and doc.offsets[covered[0], 0] <= 8 < doc.offsets[covered[0], 1]
    assert doc.offsets[covered[1] - 1, 1] >= 14 and doc.offsets[covered[1] - 1, 0] < 14
    assert doc.token_range(22, 23) is None  # the space between the sentences


def test_an_ensemble_passes_on_its_first_members_states(tiny_ner_model, lookup_model, tagger,
                                                         tmp_path):
    """The relation heads read the first member's pass (`states_fingerprint`): the states are
    that member's own, and the mentions the ensemble's."""
    from litmine.tasks.ner.ensemble import write_ensemble

    ensemble = load_tagger(str(write_ensemble(tmp_path / "ens", [tiny_ner_model, lookup_model])),
                           device="cpu", dtype="fp32")
    text = "Lithium causes tremor. " + LONG_TEXT
    sentences = [Sentence("1", 0, 0, 22, text[:22]), Sentence("1", 1, 23, len(text), text[23:]),
                 Sentence("2", 0, 0, 7, "Lithium")]
    own = tagger.tag_documents(sentences, states_layer=1).states
    kept = ensemble.tag_documents(sentences, states_layer=1)
    assert kept.mentions == ensemble.tag(sentences)
    assert kept.states.keys() == own.keys() == {"1", "2"}
    for pmid, doc in kept.states.items():
        assert doc.model_id == tagger.model_id and doc.layer == 1
        assert doc.fingerprint == tagger.model_id.rsplit("@", 1)[-1]
        assert (doc.offsets == own[pmid].offsets).all()
        assert torch.allclose(doc.states, own[pmid].states)
    assert ensemble.tag_documents(sentences).states == {}
    assert ensemble.states_fingerprint(1) == tagger.states_fingerprint(1)
    assert tagger.states_fingerprint(1) == tagger.model_id.rsplit("@", 1)[-1]


def test_a_states_layer_the_model_does_not_have_is_refused(tagger):
    with pytest.raises(ValueError, match="states_layer must be in"):
        tagger.tag_texts(["Lithium."], states_layer=9, states=[])


def test_a_shipped_models_name_and_its_folder_get_their_own_tagger():
    """Rows record the name a run gave (`Tagger.model_name`): a relation head that loads its NER
    model by name must not rename the tagger a run opened by path (they share the weights)."""
    from litmine.settings import DEFAULT_NER_MODEL

    path = Path(DEFAULT_NER_MODEL)  # a checkout: data/models/litmine-ner-six-minilm-l6
    by_path = load_tagger(str(path), device="cpu", dtype="fp32")
    by_name = load_tagger(path.name, device="cpu", dtype="fp32")
    assert by_path.model_name == str(path) and by_name.model_name == path.name
    assert by_path is not by_name and by_path._model is by_name._model
    assert load_tagger(str(path) + "/", device="cpu", dtype="fp32") is by_path
