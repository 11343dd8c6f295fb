"""What oneDNN's primitive cache costs `litmine mine`: time and peak RSS per cache capacity.

On a CPU with bf16 matrix units (AMX, AVX512-BF16) torch runs bf16 matmuls through oneDNN, which
builds a primitive per input shape and keeps up to 1,024 (`ONEDNN_PRIMITIVE_CACHE_CAPACITY`),
each with the layer's weights reordered for the matrix units. litmine caps it
(`LITMINE_ONEDNN_CACHE`, default 64; litmine/memory.py). This runs `litmine mine --files` on the
same abstracts in fresh processes with each capacity, alternating, and prints the median wall
time and peak RSS of each against oneDNN's default. On an AVX2-only CPU the models run in fp32
(MKL, no primitive cache) and the capacities should not differ.

Usage:
    python benchmarks/onednn_cache.py --pubtator ../shared/data/corpora/bc5cdr/CDR_DevelopmentSet.PubTator.txt
    python benchmarks/onednn_cache.py --capacities 1024,256,64,16 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from baseline import _fresh, pubtator_to_pubmed_xml, timed_process
from machine import choose_benchmark_dtype, print_machine

SAMPLE = HERE.parent / "data" / "sample" / "pubmedsample18n0001.xml.gz"
WORKDIR = Path("/tmp/litmine-bench/onednn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pubtator", type=Path, help="abstracts of this PubTator file (default: "
                                                      "the bundled 177-record sample)")
    parser.add_argument("--capacities", default="1024,64",
                        help="comma-separated; 1024 is oneDNN's default")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args(argv)
    print_machine(choose_benchmark_dtype("auto", "cpu"))
    source = (pubtator_to_pubmed_xml(args.pubtator, args.workdir / f"{args.pubtator.stem}.xml")
              if args.pubtator else SAMPLE)
    capacities = [int(c) for c in args.capacities.split(",")]
    db = args.workdir / "mine.duckdb"
    walls: dict[int, list[float]] = {c: [] for c in capacities}
    peaks: dict[int, list[int]] = {c: [] for c in capacities}
    for run in range(1, args.repeat + 1):
        for capacity in capacities:
            env = dict(os.environ, ONEDNN_PRIMITIVE_CACHE_CAPACITY=str(capacity))
            env.pop("PREFECT_API_URL", None)
            command = [sys.executable, "-m", "litmine.cli", "mine", "--files", str(source),
                       "--db", str(_fresh(db)), "--no-progress"]
            wall, peak, _ = timed_process(command, env)
            walls[capacity].append(wall)
            peaks[capacity].append(peak)
            print(f"  run {run}/{args.repeat} capacity {capacity:5d}  {wall:6.1f} s  "
                  f"peak RSS {peak / 2**20:5.0f} MiB", flush=True)
    base = capacities[0]
    print()
    for capacity in capacities:
        wall, peak = statistics.median(walls[capacity]), statistics.median(peaks[capacity])
        print(f"capacity {capacity:5d}: median {wall:.1f} s ({statistics.median(walls[base]) / wall:.2f}x "
              f"capacity {base}), peak RSS {peak / 2**20:.0f} MiB "
              f"({(peak - statistics.median(peaks[base])) / 2**20:+.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
