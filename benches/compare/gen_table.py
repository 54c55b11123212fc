#!/usr/bin/env python3
"""Writes the table of the df-* workloads of benches/compare/run.

Usage: python gen_table.py --out DIR [--mb 2000] [--files 32] [--seed 7]

Layout of DIR:

    DIR/csv/part-000.csv ... part-NNN.csv   --files files of ~MB*1e6/files bytes of CSV
    DIR/parquet/part-000.parquet ...        the same rows, a file (one row group) per CSV file,
                                            Snappy, as pandas and Spark write by default
    DIR/dim/part-0.parquet ... part-3.parquet  the join's other side: c0 = 0 .. 999999 (each
                                            once, shuffled) and w = c0 % 97, in 4 files
    DIR/expected.json                       the answers (below)
    DIR/.gen-stamp                          the parameters; written last

The columns, 12 of them, with a header line:

    k1  int64   uniform in 0..99
    k2  string  one of "a" .. "h", uniform
    x   float64 uniform in [0, 1)
    y   float64 normal(10, 3), rounded to 4 decimals
    c0 .. c7    filler: int64 uniform in 0..1e6 (c0-c3), float64 uniform (c4-c7),
                rounded to 6 decimals

expected.json answers df-csv-groupby, `filter(x > 0.5).groupby([k1, k2]).agg(y: sum,
mean, count)`: {"groups": number of groups, "count": rows kept, "sum": the sum of y over
them, "g_0_a": [sum, count] of the group (0, "a"), "rows", "bytes", "params", ...}.
Sums are of the values as written (rounded), in float64. It also answers
df-parquet-projection (the same filter, sum of y and count: "count", "sum"), df-join
(`merge(dim, on="c0")` inner, every row matches: "rows" and "join_w", the sum of w)
and df-sort (`set_index("x")`: "rows", "x_min", "x_max").

Deterministic for given parameters and NumPy version. Written in a temporary
directory that replaces DIR at the end; when DIR/.gen-stamp matches the
parameters nothing is written, so the driver can call this before every run.
Needs NumPy and pyarrow (both in the compare venv's lock).
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np

STAMP = ".gen-stamp"
ROWS_PER_CHUNK = 1_000_000
# Measured on the first chunk: bytes of CSV per row, to size the files.
KEYS2 = np.array(list("abcdefgh"))
# The join's other side: one row per value c0 can take.
DIM_ROWS = 1_000_000
DIM_FILES = 4


def chunk(rng, n):
    import pyarrow as pa

    k1 = rng.integers(0, 100, n)
    k2 = rng.integers(0, 8, n)
    x = rng.random(n)
    y = np.round(rng.normal(10.0, 3.0, n), 4)
    columns = {"k1": k1, "k2": KEYS2[k2], "x": np.round(x, 6), "y": y}
    for i in range(4):
        columns[f"c{i}"] = rng.integers(0, 1_000_000, n)
    for i in range(4, 8):
        columns[f"c{i}"] = np.round(rng.random(n), 6)
    table = pa.table(columns)
    keep = columns["x"] > 0.5
    return table, (k1[keep], k2[keep], y[keep])


def stamp_text(args):
    me = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"mb {args.mb} files {args.files} seed {args.seed} numpy {np.__version__} gen {me}\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--mb", type=int, default=2000)
    p.add_argument("--files", type=int, default=32)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    out = args.out
    stamp = stamp_text(args)
    if (out / STAMP).exists() and (out / STAMP).read_text() == stamp:
        print(f"gen_table: {out} is current", file=sys.stderr)
        return 0
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("csv", "parquet", "dim"):
        (tmp / sub).mkdir(parents=True)
    rng = np.random.default_rng(args.seed)
    per_file = args.mb * 1_000_000 // args.files
    sums = np.zeros((100, 8))
    counts = np.zeros((100, 8), dtype=np.int64)
    total_rows = 0
    total_bytes = 0
    join_w = 0
    x_min, x_max = math.inf, -math.inf
    for f in range(args.files):
        path = tmp / "csv" / f"part-{f:03d}.csv"
        tables = []
        with open(path, "wb") as sink:
            header = True
            while sink.tell() < per_file:
                table, (k1, k2, y) = chunk(rng, ROWS_PER_CHUNK // 4)
                options = pcsv.WriteOptions(include_header=header)
                pcsv.write_csv(table, sink, write_options=options)
                header = False
                np.add.at(sums, (k1, k2), y)
                np.add.at(counts, (k1, k2), 1)
                total_rows += table.num_rows
                c0 = table.column("c0").to_numpy()
                join_w += int((c0 % 97).sum())
                x = table.column("x").to_numpy()
                x_min, x_max = min(x_min, float(x.min())), max(x_max, float(x.max()))
                tables.append(table)
            total_bytes += sink.tell()
        whole = pa.concat_tables(tables)
        pq.write_table(whole, tmp / "parquet" / f"part-{f:03d}.parquet",
                       row_group_size=whole.num_rows, compression="snappy")
        print(f"gen_table: {path.name} {total_bytes / 1e6:.0f} MB", file=sys.stderr)
    ids = rng.permutation(DIM_ROWS)
    for i, part in enumerate(np.array_split(ids, DIM_FILES)):
        dim = pa.table({"c0": part.astype(np.int64), "w": (part % 97).astype(np.int64)})
        pq.write_table(dim, tmp / "dim" / f"part-{i}.parquet", compression="snappy")
    present = counts > 0
    expected = {
        "groups": int(present.sum()),
        "count": int(counts.sum()),
        "sum": float(sums.sum()),
        "g_0_a": [float(sums[0, 0]), int(counts[0, 0])],
        "rows": total_rows,
        "bytes": total_bytes,
        "parquet_bytes": sum(p.stat().st_size for p in (tmp / "parquet").iterdir()),
        "join_w": join_w,
        "x_min": x_min,
        "x_max": x_max,
        "params": {"mb": args.mb, "files": args.files, "seed": args.seed},
        "numpy": np.__version__,
    }
    (tmp / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    (tmp / STAMP).write_text(stamp)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
