"""Dask's side of `benches/compare/run` for the dask.dataframe workloads.

Usage: python run_dataframe.py --workload NAME [--scheduler sync|threads|processes]
                               [--reps N] [--warmup N] --data DIR
       python run_dataframe.py --list | --versions

Workloads (the Barrow counterparts are workloads of benches/src/bin/compare/):

  df-csv-groupby   dd.read_csv(f"{DIR}/csv/*.csv", blocksize=None)   (a partition per file)
                     [lambda d: d.x > 0.5].groupby(["k1", "k2"]).y.agg(["sum", "mean", "count"])
                   checked against DIR/expected.json (groups, rows kept, the sum of the
                   sums, group (0, "a")); throughput in MB/s (1e6 bytes) of CSV
  df-parquet-projection  dd.read_parquet(f"{DIR}/parquet", columns=["x", "y"])
                     [lambda d: d.x > 0.5].y.sum(): 2 of the 12 columns, a partition per
                   file; MB/s of the Parquet files
  df-join          dd.read_parquet(parquet, columns=["c0", "y"]).merge(
                     dd.read_parquet(f"{DIR}/dim"), on="c0").w.sum(): every row of the
                   table with one of the 1,000,000 rows of dim (4 partitions, so a hash
                   shuffle, not a broadcast); millions of rows of the table per second
  df-sort          dd.read_parquet(parquet, columns=["x", "y"]).set_index("x"), computed
                   to one frame: divisions from quantiles, a range shuffle, a sort per
                   partition; checked by length, first and last x; millions of rows per second

DIR is the table benches/compare/gen_table.py writes. pandas reads the CSV with
its default (C) parser, as `dd.read_csv` does unless told otherwise.

One JSON line per workload, with the fields of run_bag.py ("bytes", MB/s).
Timing: the expression is built warmup + reps times, then `.compute()` runs
warmup times untimed and reps times timed, with time.perf_counter around the
call only; `scheduler="sync"`, or `"threads"` / `"processes"` with
num_workers=2. `peak_rss_mb` is VmHWM (for processes, the parent's alone).
"""
import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_bag import measure_in  # noqa: E402
from run_graph import runner_main  # noqa: E402


class Setup(Exception):
    """A workload cannot start (missing data): reported as its error."""


def summary(groups, count, total, g0):
    """What both sides compare: rounded so that float sums in another order agree."""
    return [groups, count, round(total, 2), round(g0[0], 4), g0[1]]


def expected_table(data):
    """DIR/expected.json, or Setup saying how to make it."""
    if data is None:
        raise Setup("--data DIR is needed (the table of benches/compare/gen_table.py)")
    data = Path(data)
    try:
        exp = json.loads((data / "expected.json").read_text())
    except (OSError, ValueError) as e:
        raise Setup(f"{data}/expected.json unreadable ({e}); "
                    f"run benches/compare/gen_table.py --out {data}") from None
    if "join_w" not in exp:
        raise Setup(f"{data}/expected.json predates the Parquet files; "
                    f"run benches/compare/gen_table.py --out {data}")
    return data, exp


def csv_groupby(data):
    import dask.dataframe as dd

    data, exp = expected_table(data)
    expected = summary(exp["groups"], exp["count"], exp["sum"], exp["g_0_a"])
    pattern = str(data / "csv" / "*.csv")

    def build():
        df = dd.read_csv(pattern, blocksize=None)
        out = df[df.x > 0.5].groupby(["k1", "k2"]).y.agg(["sum", "mean", "count"])
        return out, df.npartitions

    def result(res):
        g0 = res.loc[(0, "a")]
        assert math.isclose(g0["mean"], g0["sum"] / g0["count"])
        return summary(len(res), int(res["count"].sum()), float(res["sum"].sum()),
                       [float(g0["sum"]), int(g0["count"])])

    return build, expected, result, {"bytes": exp["bytes"]}, ("bytes", "MB/s")


def parquet_projection(data):
    import dask.dataframe as dd

    data, exp = expected_table(data)

    def build():
        df = dd.read_parquet(str(data / "parquet"), columns=["x", "y"])
        return df[df.x > 0.5].y.sum(), df.npartitions

    def result(res):
        return round(float(res), 2)

    return (build, round(exp["sum"], 2), result, {"bytes": exp["parquet_bytes"]},
            ("bytes", "MB/s"))


def join(data):
    import dask.dataframe as dd

    data, exp = expected_table(data)

    def build():
        big = dd.read_parquet(str(data / "parquet"), columns=["c0", "y"])
        dim = dd.read_parquet(str(data / "dim"))
        out = big.merge(dim, on="c0", how="inner", broadcast=False)
        return out.w.sum(), big.npartitions

    def result(res):
        return int(res)

    return build, exp["join_w"], result, {"rows": exp["rows"]}, ("rows", "Mrows/s")


def sort(data):
    import dask.dataframe as dd

    data, exp = expected_table(data)

    def build():
        df = dd.read_parquet(str(data / "parquet"), columns=["x", "y"])
        return df.set_index("x"), df.npartitions

    def result(res):
        assert res.index.is_monotonic_increasing
        return [len(res), float(res.index[0]), float(res.index[-1])]

    expected = [exp["rows"], exp["x_min"], exp["x_max"]]
    return build, expected, result, {"rows": exp["rows"]}, ("rows", "Mrows/s")


WORKLOADS = {
    "df-csv-groupby": csv_groupby,
    "df-parquet-projection": parquet_projection,
    "df-join": join,
    "df-sort": sort,
}


def graph_sizes(coll):
    """Tasks after optimization, on both counts: dask-expr lowers a reduction only
    when optimized (dask.optimize and an unoptimized graph cannot)."""
    tasks = len(dict(coll.optimize().__dask_graph__()))
    return tasks, tasks


def measure(name, sched, reps, warmup, data):
    """Builds, warms up, times and checks one dataframe workload (run_bag.py's
    harness); returns the JSON record."""
    return measure_in(WORKLOADS, graph_sizes, name, sched, reps, warmup, data)


def main(argv=None):
    return runner_main(argv, __doc__.split("\n")[0], WORKLOADS, measure, "a dataframe workload",
                       data=True, setup_error=Setup)


if __name__ == "__main__":
    sys.exit(main())
