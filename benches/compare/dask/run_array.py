"""Dask's side of `benches/compare/run` for the dask.array workloads.

Usage: python run_array.py --workload NAME [--workload NAME ...]
                           [--scheduler sync|threads] [--reps N] [--warmup N]
       python run_array.py --list | --versions

Workloads (the cases of the project's anchor script bench_array.py, section 2;
the Barrow counterparts are workloads of benches/src/bin/compare/array.rs):

  ones-sum            da.ones((20000, 20000), chunks=2000).sum()            == 4e8
  ones-materialized   da.ones((20000, 20000), chunks=2000)
                        .map_blocks(np.ascontiguousarray, dtype="f8").sum() == 4e8
                      (da.ones chunks are broadcasts of one 1.0; this makes every
                      chunk a real 32 MB array)
  random-mean         da.random.random((20000, 20000), chunks=2000).mean()  within 1e-3 of 0.5
  x-plus-xT-sum       x = da.random.random((10000, 10000), chunks=1000); (x + x.T).sum()
                      within a relative 1e-3 of 1e8
  dot-xxT             x = da.random.random((4000, 4000), chunks=1000); x.dot(x.T)
                      computed to a 4000 x 4000 NumPy array; checked: the shape, and
                      entry (i, j) (fixed, off the block diagonal) against
                      x[i, :] @ x[j, :] computed apart; reports GFLOP/s = 2 * 4000^3 / s
  random-sum-50k      da.random.random((50000, 50000), chunks=5000).sum()  within a
                      relative 1e-3 of 1.25e9 (20 GB logical, streamed)
  rechunk-cols-to-rows
                      x = da.random.random((10000, 10000), chunks=(10000, 1000));
                      x.rechunk((1000, 10000)).sum() within a relative 1e-3 of 5e7: an
                      all-to-all rechunk (every row block needs a piece of every column
                      block) of 800 MB, then a reduction; Dask's default rechunk
                      (method "tasks" on the local schedulers)

One JSON line per workload, with the fields of run_bag.py where they apply:

  {"system": "dask", "workload", "scheduler", "workers", "reps", "warmup",
   "tasks" (graph length before optimization), "tasks_optimized" (after dask.optimize),
   "shape", "chunks", "bytes" (logical bytes of the array), "seconds" (median), "times",
   "throughput" (logical GB/s, 1 GB = 1e9 bytes), "throughput_unit" ("GB/s"),
   "gflops" (dot-xxT), "build_seconds", "peak_rss_mb", "result", "expected", "ok",
   "optimize_graph"}  (or "ok": false, "error")

Timing: the collection is built warmup + reps times (median of the last reps is
`build_seconds`), then `.compute()` runs warmup times untimed and reps times timed
on the last one built, with time.perf_counter around the call only. compute() is
Dask's ordinary one, with its default graph optimization (blockwise fusion, cull,
linear fusion), as the anchor measured; `scheduler="sync"`, or
`scheduler="threads", num_workers=2`. NumPy's BLAS threads are left as they are
(the anchor's main dot-xxT row). `peak_rss_mb` is VmHWM, as in run_graph.py.

Exit status: 0 when every workload ran and matched, 1 when one failed (its
JSON line says why), 2 on a usage error.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_graph import peak_rss_mb, runner_main  # noqa: E402

# The entry of dot-xxT checked against a direct dot product: off the block diagonal.
DOT_ENTRY = (1234, 3210)


def _close(target, rel):
    return lambda r: abs(float(r) / target - 1) < rel


def workloads():
    import dask.array as da
    import numpy as np

    def ones_sum():
        return da.ones((20000, 20000), chunks=2000).sum()

    def ones_materialized():
        return da.ones((20000, 20000), chunks=2000).map_blocks(
            np.ascontiguousarray, dtype="f8").sum()

    def random_mean():
        return da.random.random((20000, 20000), chunks=2000).mean()

    def x_plus_xt_sum():
        x = da.random.random((10000, 10000), chunks=1000)
        return (x + x.T).sum()

    def rechunk_cols_to_rows():
        x = da.random.random((10000, 10000), chunks=(10000, 1000))
        return x.rechunk((1000, 10000)).sum()

    def dot_xxt():
        x = da.random.random((4000, 4000), chunks=1000)
        out = x.dot(x.T)
        out.x = x  # the input, for the entry check (not part of the timed graph)
        return out

    def random_sum_50k():
        return da.random.random((50000, 50000), chunks=5000).sum()

    def dot_check(out, res):
        if res.shape != (4000, 4000):
            return False, f"shape {res.shape} != (4000, 4000)"
        i, j = DOT_ENTRY
        direct = float(np.dot(out.x[i, :].compute(), out.x[j, :].compute()))
        got = float(res[i, j])
        if abs(got - direct) > 1e-9 * abs(direct):
            return False, f"entry {DOT_ENTRY} = {got}, direct dot = {direct}"
        return True, None

    def scalar(check, expected):
        def run(_coll, res):
            ok = bool(check(res))
            return ok, None if ok else f"result {float(res)} != expected {expected}"
        return run

    n20k = 20000 * 20000 * 8
    # name: (builder, logical bytes, shape, chunks, flops or None, expected (JSON), check)
    return {
        "ones-sum": (ones_sum, n20k, (20000, 20000), 2000, None, 4e8,
                     scalar(lambda r: r == 4e8, 4e8)),
        "ones-materialized": (ones_materialized, n20k, (20000, 20000), 2000, None, 4e8,
                              scalar(lambda r: r == 4e8, 4e8)),
        "random-mean": (random_mean, n20k, (20000, 20000), 2000, None, 0.5,
                        scalar(lambda r: abs(r - 0.5) < 1e-3, "0.5 +- 1e-3")),
        "x-plus-xT-sum": (x_plus_xt_sum, 10000 * 10000 * 8, (10000, 10000), 1000, None, 1e8,
                          scalar(_close(1e8, 1e-3), "1e8 (rel 1e-3)")),
        "dot-xxT": (dot_xxt, 4000 * 4000 * 8, (4000, 4000), 1000, 2 * 4000**3,
                    [4000, 4000], dot_check),
        "random-sum-50k": (random_sum_50k, 50000 * 50000 * 8, (50000, 50000), 5000, None,
                           1.25e9, scalar(_close(1.25e9, 1e-3), "1.25e9 (rel 1e-3)")),
        "rechunk-cols-to-rows": (rechunk_cols_to_rows, 10000 * 10000 * 8, (10000, 10000),
                                 [[10000, 1000], [1000, 10000]], None, 5e7,
                                 scalar(_close(5e7, 1e-3), "5e7 (rel 1e-3)")),
    }


WORKLOAD_NAMES = ("ones-sum", "ones-materialized", "random-mean", "x-plus-xT-sum", "dot-xxT",
                  "random-sum-50k", "rechunk-cols-to-rows")


def measure(name, sched, reps, warmup):
    """Builds, warms up, times and checks one workload; returns the JSON record."""
    import dask

    build, nbytes, shape, chunks, flops, expected, check = workloads()[name]
    kwargs = {"scheduler": sched}
    close, start = None, {}
    if sched == "distributed":
        from run_graph import start_cluster

        client, close, seconds = start_cluster()
        kwargs = {"scheduler": client}
        start = {"start_seconds": seconds}
    if sched == "threads":
        kwargs["num_workers"] = 2
    build_times = []
    coll = None
    for i in range(warmup + reps):
        coll = None  # drop the previous one first
        t0 = time.perf_counter()
        coll = build()
        if i >= warmup:
            build_times.append(time.perf_counter() - t0)
    tasks = len(coll.__dask_graph__())
    (optimized,) = dask.optimize(coll)
    tasks_optimized = len(optimized.__dask_graph__())
    del optimized
    for _ in range(warmup):
        res = coll.compute(**kwargs)
        ok, error = check(coll, res)
        if not ok:
            raise AssertionError(f"warm-up: {error}")
        res = None  # do not hold a 128 MB result through the timed runs
    times = []
    ok, error = True, None
    for _ in range(reps):
        res = None
        t0 = time.perf_counter()
        res = coll.compute(**kwargs)
        times.append(time.perf_counter() - t0)
        ok, error = check(coll, res)
        if not ok:
            break
    if close is not None:
        close()
    med = statistics.median(times)
    if hasattr(res, "shape") and res.shape != ():
        result = list(res.shape)
    else:
        result = float(res)
    record = {
        "tasks": tasks,
        "tasks_optimized": tasks_optimized,
        "shape": list(shape),
        "chunks": chunks,
        "bytes": nbytes,
        "seconds": round(med, 6),
        "times": [round(t, 6) for t in times],
        "throughput": round(nbytes / med / 1e9, 4),
        "throughput_unit": "GB/s",
        "build_seconds": round(statistics.median(build_times), 6),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "result": result,
        "expected": expected,
        "ok": ok,
        "optimize_graph": True,
        **start,
    }
    if flops:
        record["gflops"] = round(flops / med / 1e9, 2)
    if not ok:
        record["error"] = error
    return record


def main(argv=None):
    return runner_main(argv, __doc__.split("\n")[0], WORKLOAD_NAMES, measure, "an array workload")


if __name__ == "__main__":
    sys.exit(main())
