"""NCBI bulk files: discovery order, .md5 checks, broken files, and the load-order guard."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from litmine.errors import LitmineError
from litmine.tasks.sources.bulk import (
    BulkFile,
    check_order,
    find_bulk_files,
    iter_file_batches,
    read_md5,
    verify_md5,
)
from litmine.tasks.records import Article, Deletion

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pubmed"
BASELINE, UPDATE = "pubmed26n1334.xml.gz", "pubmed26n1335.xml.gz"


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        # NCBI's layout: baseline/ then updatefiles/, numbers continuing.
        (["updatefiles/pubmed26n1336.xml.gz", "baseline/pubmed26n0002.xml.gz",
          "updatefiles/pubmed26n1335.xml.gz", "baseline/pubmed26n0001.xml.gz"],
         ["pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz", "pubmed26n1335.xml.gz", "pubmed26n1336.xml.gz"]),
        # Numeric, not by modification time or listing order; .md5 and other files ignored.
        (["pubmed26n0010.xml.gz", "pubmed26n0009.xml.gz", "pubmed26n0010.xml.gz.md5", "README.txt",
          "pubmed26n0100.xml"],
         ["pubmed26n0009.xml.gz", "pubmed26n0010.xml.gz", "pubmed26n0100.xml"]),
        # An older baseline year sorts before the new one (which starts again at 0001).
        (["pubmed26n0001.xml.gz", "pubmed25n1274.xml.gz"], ["pubmed25n1274.xml.gz", "pubmed26n0001.xml.gz"]),
    ],
)
def test_files_are_found_in_loading_order(tmp_path, names, expected):
    _touch(tmp_path, *names)
    assert [f.name for f in find_bulk_files(tmp_path)] == expected


def test_the_bundled_nlm_sample_is_a_bulk_file():
    """`litmine refresh --files data/sample` works on what ships (NLM's sample, named like a baseline file)."""
    sample = Path(__file__).resolve().parents[2] / "data" / "sample"
    assert [(f.name, f.year, f.number) for f in find_bulk_files(sample)] == [("pubmedsample18n0001.xml.gz", 18, 1)]


def test_kind_comes_from_the_directory(tmp_path):
    _touch(tmp_path, "baseline/pubmed26n0001.xml.gz", "updatefiles/pubmed26n1335.xml.gz", "pubmed26n1336.xml.gz")
    assert [f.kind for f in find_bulk_files(tmp_path)] == ["baseline", "updatefiles", ""]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["baseline/pubmed26n0001.xml.gz", "copy/pubmed26n0001.xml.gz"], "twice"),
        (["notes.txt"], "no pubmedYYnNNNN.xml.gz files"),
    ],
)
def test_unusable_directories_are_refused(tmp_path, names, message):
    _touch(tmp_path, *names)
    with pytest.raises(LitmineError, match=message):
        find_bulk_files(tmp_path)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(LitmineError, match="does-not-exist does not exist"):
        find_bulk_files(tmp_path / "does-not-exist")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MD5(pubmed26n1334.xml.gz)= 3cf53ba34ff73126e42d1d8391330e73\n", "3cf53ba34ff73126e42d1d8391330e73"),
        ("3CF53BA34FF73126E42D1D8391330E73  pubmed26n1334.xml.gz\n", "3cf53ba34ff73126e42d1d8391330e73"),
    ],
)
def test_md5_files_in_ncbi_and_md5sum_formats(tmp_path, text, expected):
    path = tmp_path / "x.md5"
    path.write_text(text)
    assert read_md5(path) == expected


def test_md5_file_without_a_checksum_is_refused(tmp_path):
    path = tmp_path / "x.md5"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(LitmineError, match="does not hold an MD5"):
        read_md5(path)


def test_real_md5_files_match_their_files(tmp_path):
    for name in (BASELINE, UPDATE):
        shutil.copy(FIXTURES / name, tmp_path / name)
        shutil.copy(FIXTURES / f"{name}.md5", tmp_path / f"{name}.md5")
    files = find_bulk_files(tmp_path)
    assert [verify_md5(f) for f in files] == ["3cf53ba34ff73126e42d1d8391330e73", "88b74979343252faa848a06d7c6aa3ea"]


def test_a_corrupt_download_fails_its_md5(tmp_path):
    data = bytearray((FIXTURES / BASELINE).read_bytes())
    data[1000] ^= 0xFF
    (tmp_path / BASELINE).write_bytes(bytes(data))
    shutil.copy(FIXTURES / f"{BASELINE}.md5", tmp_path / f"{BASELINE}.md5")
    with pytest.raises(LitmineError, match=r"MD5 .* but pubmed26n1334.xml.gz.md5 says 3cf53ba3.*download"):
        verify_md5(find_bulk_files(tmp_path)[0])


def test_batches_keep_file_order_and_the_deletion(tmp_path):
    bulk = BulkFile(FIXTURES / UPDATE, 26, 1335, "updatefiles")
    batches = list(iter_file_batches(bulk, 7))
    assert [len(b) for b in batches] == [7, 7, 7, 7, 3]  # 30 records + 1 DeleteCitation
    items = [i for b in batches for i in b]
    assert all(isinstance(i, Article) and i.source == UPDATE for i in items[:30])
    assert isinstance(items[-1], Deletion) and len(items[-1].pmids) == 6


def test_a_cut_download_raises_instead_of_loading_half(tmp_path):
    data = (FIXTURES / BASELINE).read_bytes()
    path = tmp_path / BASELINE
    path.write_bytes(data[: len(data) // 2])  # the first half of the .gz, as a broken download
    with pytest.raises(LitmineError, match="breaks off.*download it again"):
        list(iter_file_batches(BulkFile(path, 26, 1334, ""), 5))


def _files(*names: str) -> list[BulkFile]:
    return [BulkFile(Path(n), 26, int(n[9:13]), "") for n in names]


@pytest.mark.parametrize(
    ("done", "refused"),
    [
        ([], False),
        (["pubmed26n0001.xml.gz"], False),
        (["pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz", "pubmed26n0003.xml.gz"], False),
        (["pubmed26n0002.xml.gz"], True),  # 0001 would load after the newer 0002
        (["pubmed26n0001.xml.gz", "pubmed26n0003.xml.gz"], True),
    ],
)
def test_an_older_file_is_not_loaded_after_a_newer_one(done, refused):
    files = _files("pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz", "pubmed26n0003.xml.gz")
    statuses = {name: {"status": "done"} for name in done}
    if refused:
        with pytest.raises(LitmineError, match="is not loaded but the later"):
            check_order(files, statuses)
    else:
        check_order(files, statuses)
