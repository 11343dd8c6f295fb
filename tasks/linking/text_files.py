"""Open the lexicon's input files: plain or gzipped UTF-8 text, tab-separated rows."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from litmine.errors import ParseError


def open_text(path: Path, stage: str = "lexicon") -> IO[str]:
    """A UTF-8 text reader over a plain or gzipped (.gz) input file; ParseError when the file
    does not exist, prefixed with `stage`."""
    if not path.is_file():
        raise ParseError(f"{stage}: input file {path} does not exist; check the path")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8")
    return open(path, encoding="utf-8")


def text_start(path: Path, stage: str = "lexicon") -> str:
    """The file's first 512 characters, leading whitespace stripped: enough to tell MeSH XML
    ("<") from a table."""
    with open_text(path, stage) as handle:
        return handle.read(512).lstrip()


def tsv_rows(handle: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, tab-separated cells) of each line that is neither blank nor a "#" comment."""
    for lineno, line in enumerate(handle, 1):
        line = line.rstrip("\r\n")
        if line.strip() and not line.startswith("#"):
            yield lineno, line.split("\t")
