"""Dask's side of `benches/compare/run` for the dask.dataframe workloads.

Usage: python run_dataframe.py --workload NAME [--scheduler sync|threads|processes]
                               [--reps N] [--warmup N] --data DIR
       python run_dataframe.py --list | --versions

Workloads (the Barrow counterparts are workloads of benches/src/bin/compare/):

  df-csv-groupby   dd.read_csv(f"{DIR}/csv/*.csv", blocksize=None)   (a partition per file)
                     [lambda d: d.x > 0.5].groupby(["k1", "k2"]).y.agg(["sum", "mean", "count"])
                   checked against DIR/expected.json (groups, rows kept, the sum of the
                   sums, group (0, "a")); throughput in MB/s (1e6 bytes) of CSV

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
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_graph import peak_rss_mb, runner_main  # noqa: E402


class Setup(Exception):
    """A workload cannot start (missing data): reported as its error."""


def summary(groups, count, total, g0):
    """What both sides compare: rounded so that float sums in another order agree."""
    return [groups, count, round(total, 2), round(g0[0], 4), g0[1]]


def csv_groupby(data):
    import dask.dataframe as dd

    if data is None:
        raise Setup("--data DIR is needed (the table of benches/compare/gen_table.py)")
    data = Path(data)
    try:
        exp = json.loads((data / "expected.json").read_text())
    except (OSError, ValueError) as e:
        raise Setup(f"{data}/expected.json unreadable ({e}); "
                    f"run benches/compare/gen_table.py --out {data}") from None
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


WORKLOADS = {"df-csv-groupby": csv_groupby}


def measure(name, sched, reps, warmup, data):
    build, expected, normalize, size, (size_key, unit) = WORKLOADS[name](data)
    kwargs = {"scheduler": sched}
    if sched in ("threads", "processes"):
        kwargs["num_workers"] = 2
    build_times = []
    coll = partitions = None
    for i in range(warmup + reps):
        coll = None
        t0 = time.perf_counter()
        coll, partitions = build()
        if i >= warmup:
            build_times.append(time.perf_counter() - t0)
    # dask-expr lowers a reduction only when optimized; dask.optimize cannot.
    tasks_optimized = len(dict(coll.optimize().__dask_graph__()))
    res = None
    for _ in range(warmup):
        res = normalize(coll.compute(**kwargs))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        raw = coll.compute(**kwargs)
        times.append(time.perf_counter() - t0)
        res = normalize(raw)
        if res != expected:
            break
    med = statistics.median(times)
    ok = res == expected
    record = {
        "tasks": tasks_optimized,
        "tasks_optimized": tasks_optimized,
        "partitions": partitions,
        **size,
        "seconds": round(med, 6),
        "times": [round(t, 6) for t in times],
        "throughput": round(size[size_key] / med / 1e6, 4),
        "throughput_unit": unit,
        "build_seconds": round(statistics.median(build_times), 6),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "result": res,
        "expected": expected,
        "ok": ok,
        "optimize_graph": True,
    }
    if not ok:
        record["error"] = f"result {res} != expected {expected}"
    return record


def main(argv=None):
    return runner_main(argv, __doc__.split("\n")[0], WORKLOADS, measure, "a dataframe workload",
                       data=True, setup_error=Setup)


if __name__ == "__main__":
    sys.exit(main())
