"""Per-environment settings, read from `LITMINE_*` variables (and NCBI_* for NCBI credentials)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from litmine.model_packages import default_path, output_path

NCBI_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"

#: Repository root (for the bundled sample; in an installed litmine, site-packages).
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
# The shipped models' defaults (litmine/model_packages.py): in a checkout, data/models/NAME as
# always; in an installed litmine, the model's name, found in its model package when used (a
# missing one fails with what was looked for and how to install it). `*_OUT`: where training
# writes a model unless told otherwise (the checkout's data/models, else the current directory).
#: The default NER model (issue 16): one model, six types (Gene, Chemical, Disease, Species,
#: Variant, CellLine), trained on nine corpora; `litmine train`'s default --out. It is
#: litmine-ner-six-minilm-l6 (the default before) with its top two layers distilled from
#: SIX_ENSEMBLE and its first four kept, so the relation head trained on that model's states
#: reads its pass.
DEFAULT_MODEL_DIR = output_path("litmine-ner-six-v2-minilm-l6")
DEFAULT_NER_MODEL = default_path("litmine-ner-six-v2-minilm-l6")
#: The earlier Chemical/Disease models (BC5CDR only): the sentence model and its ensemble with a
#: document-level sibling (litmine.tasks.ner.ensemble); `--model` selects them.
BC5CDR_MODEL = default_path("litmine-ner-bc5cdr-minilm-l6")
BC5CDR_ENSEMBLE = default_path("litmine-ner-bc5cdr-ensemble")
#: The six-type ensemble (the default model and two siblings trained with task markers): better
#: mentions at three models' NER time; `--model litmine-ner-six-ensemble` selects it.
SIX_ENSEMBLE = default_path("litmine-ner-six-ensemble")
#: The MeSH lexicon and CID relation model shipped beside it (issue 7).
DEFAULT_LEXICON = default_path("litmine-lexicon-mesh.tsv.gz")
LEXICON_OUT = output_path("litmine-lexicon-mesh.tsv.gz")
DEFAULT_RELATION_MODEL = default_path("litmine-cid-bc5cdr")
RELATION_MODEL_OUT = output_path("litmine-cid-bc5cdr")
#: BioRED's eight relation types with novelty, between genes, chemicals, diseases and variants.
DEFAULT_TYPED_RELATION_MODEL = default_path("litmine-relations-biored-minilm-l6")
TYPED_RELATION_MODEL_OUT = output_path("litmine-relations-biored-minilm-l6")


class Settings(BaseSettings):
    """Settings for one environment. Per-run choices (query, model, ...) are flow parameters."""

    model_config = SettingsConfigDict(env_prefix="LITMINE_", extra="ignore", populate_by_name=True)

    db: Path = Field(
        default=Path("litmine.duckdb"),
        description="DuckDB file that holds the results (a relative path is from the current directory).",
    )
    eutils_url: str = Field(
        default=NCBI_EUTILS_URL,
        description="E-utilities base URL (NCBI's, a mirror, or a local server in tests).",
    )
    ncbi_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("NCBI_API_KEY", "LITMINE_NCBI_API_KEY"),
        description="NCBI API key: raises the rate limit from 3 to 10 requests/s.",
    )
    ncbi_email: str = Field(
        default="",
        validation_alias=AliasChoices("NCBI_EMAIL", "LITMINE_NCBI_EMAIL"),
        description="Contact e-mail NCBI asks every E-utilities client to send.",
    )
    tool: str = Field(default="litmine", min_length=1, description="`tool` parameter sent to NCBI.")
    requests_per_second: float | None = Field(
        default=None,
        gt=0,
        le=10,
        description="Override the request rate (default: 3/s, or 10/s with an API key); a whole "
                    "number holds every second to it, a fraction is kept on average.",
    )
    fetch_batch_size: int = Field(
        default=200, ge=1, le=10000, description="PMIDs per efetch request (NCBI allows 10,000)."
    )
    http_timeout: float = Field(
        default=60.0, gt=0, le=600, description="Seconds before an E-utilities request times out."
    )
    max_retries: int = Field(
        default=6, ge=0, le=20, description="Retries of one E-utilities request before the run fails."
    )
    backoff_base: float = Field(
        default=1.0, ge=0, le=60, description="First retry pause in seconds; doubles each retry."
    )
    model: str = Field(
        default=str(DEFAULT_NER_MODEL),
        description="NER model: a local directory, a litmine model's name (`litmine models`) or a Hugging Face hub ID.",
    )
    device: str = Field(
        default="auto", description="Torch device for models: auto, cpu, cuda, cuda:N."
    )
    dtype: Literal["auto", "fp32", "fp16", "bf16", "int8"] = Field(
        default="auto",
        description="NER weights' dtype; auto: bf16 on CPUs with AMX/AVX512-BF16, else fp32 (relation heads int8), fp16 on CUDA.",
    )
    lexicon: Path = Field(
        default=DEFAULT_LEXICON,
        description="MeSH lexicon (`litmine lexicon build`) that links entities to concept IDs.",
    )
    dense_linker: str = Field(
        default="none",
        description="Sentence encoder of the linker's dense level (a Disease mention no name matched takes its nearest lexicon name's ID; all-MiniLM-L6-v2 is bundled); none: off (the default: it helps curated mentions, not predicted ones; docs/relations.md).",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "litmine",
        description="Where built linkers are cached between processes (keyed by the lexicon's sha256).",
    )
    relation_model: Path = Field(
        default=DEFAULT_RELATION_MODEL,
        description="CID relation model (`litmine train-relations`) that scores concept pairs.",
    )
    typed_relation_model: Path = Field(
        default=DEFAULT_TYPED_RELATION_MODEL,
        description="BioRED relation model (`litmine train --task relations --method typed`): eight types with novelty.",
    )
    refresh_cron: str = Field(
        default="0 3 * * *",
        description="Cron schedule of the served `refresh` deployment (`litmine serve`); daily.",
    )
    embed_model: str | None = Field(
        default=None,
        description="Sentence encoder of `embed`, `mine --embed`, `classify` (unset: bundled MiniLM).",
    )
    qa_model: str | None = Field(
        default=None,
        description="Extractive question-answering model of `ask` (unset: none ships; pass one).",
    )
    summary_model: str | None = Field(
        default=None,
        description="Generative model of `summarize` (unset: none ships; pass one).",
    )
    vector_index_min: int = Field(
        default=10_000, ge=0, le=10**12,
        description="Vectors of a model and level from which `embed` keeps an HNSW index and `search` uses it.",
    )
    malloc_arenas: int = Field(
        default=2, ge=0, le=1024,
        description="glibc malloc arenas per process (litmine/memory.py); 0 leaves glibc's default.",
    )
    onednn_cache: int = Field(
        default=64, ge=0, le=100_000,
        description="oneDNN primitives kept per process (ONEDNN_PRIMITIVE_CACHE_CAPACITY; bf16 CPUs, litmine/memory.py); 0 leaves oneDNN's default (1024).",
    )
    writer_wait: float = Field(
        default=180.0, ge=0, le=86400,
        description="Seconds a writing run waits for readers to let go of the database between batches, then fails (its batches kept).",
    )
    read_wait: float = Field(
        default=10.0, ge=0, le=3600,
        description="Seconds a reader (`sql`, `export`, `info`, `search`) waits while a writer holds the database (a batch: ~0.1-0.2 s).",
    )
    test_crash_at: str = Field(
        default="",
        description="Test hook: `commit:N` kills the process inside its Nth batch commit (off).",
    )
    test_fail_document: str = Field(
        default="",
        description="Test hook: `STAGE:PMID` (`STAGE:*`: every PMID) makes that per-document stage raise (off).",
    )

    @field_validator("dtype", mode="before")
    @classmethod
    def _lower_dtype(cls, value):
        """`BF16` and ` bf16 ` read as `bf16`."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("malloc_arenas", mode="before")
    @classmethod
    def _arenas_or_default(cls, value):
        """Not a number: the default 2; below 0: 0 (glibc's own), as before this was a setting."""
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return 2

    @property
    def rate(self) -> float:
        """Requests per second allowed by NCBI for these credentials."""
        if self.requests_per_second:
            return self.requests_per_second
        return 10.0 if self.ncbi_api_key else 3.0


@lru_cache(maxsize=1)
def _cached() -> Settings:
    return Settings()


def get_settings(fresh: bool = False) -> Settings:
    """The settings of this process; `fresh=True` re-reads the environment (tests, CLI)."""
    if fresh:
        _cached.cache_clear()
    return _cached()
