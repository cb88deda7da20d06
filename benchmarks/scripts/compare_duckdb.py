#!/usr/bin/env python3
"""Compare Rill with DuckDB on the operator micro-benchmark queries.

Both engines read the same Parquet files (benchmarks/data/ops/fact.parquet and dim.parquet,
written by `cargo bench --bench operators`; this script runs that once if they are missing)
with two threads. DuckDB runs in-process; Rill runs as the `rill` binary (`rill sql`), so its
times include process start-up and reading the Parquet footers (a few milliseconds).

Each query runs --runs times per engine after one warm-up run; the table shows medians and
the ratio Rill / DuckDB (below 1 means Rill is faster).

Usage: python3 benchmarks/scripts/compare_duckdb.py [--runs 5] [--rill PATH] [--data DIR]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
THREADS = 2

# The same queries as rill_benchmarks::ops::OPS_QUERIES (benchmarks/src/ops.rs).
QUERIES = [
    ("filter", "SELECT count(*) AS n FROM fact WHERE v < 500 AND s = 's42'"),
    ("aggregate_int_keys", "SELECT k % 1000 AS g, sum(v) AS sv, avg(f) AS af FROM fact GROUP BY k % 1000"),
    ("aggregate_string_keys", "SELECT s, sum(v) AS sv, avg(f) AS af FROM fact GROUP BY s"),
    ("hash_join", "SELECT count(*) AS n, sum(b.w) AS sw FROM fact AS a JOIN dim AS b ON a.k = b.k"),
]


def ensure_duckdb():
    """Imports duckdb, installing it into a private venv (benchmarks/data/venv) if needed."""
    try:
        import duckdb  # noqa: F401

        return
    except ImportError:
        pass
    env_dir = BENCH / "data" / "venv"
    python = env_dir / "bin" / "python"
    if os.environ.get("RILL_COMPARE_IN_VENV"):
        sys.exit("duckdb is still missing inside the venv; install it with: pip install duckdb")
    if not python.exists():
        print(f"creating a venv for duckdb in {env_dir}", file=sys.stderr)
        venv.create(env_dir, with_pip=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "duckdb"], check=True)
    env = dict(os.environ, RILL_COMPARE_IN_VENV="1")
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def ensure_data(data):
    if (data / "fact.parquet").exists() and (data / "dim.parquet").exists():
        return
    print("benchmark data missing: running `cargo bench --bench operators -- --test` once", file=sys.stderr)
    env = dict(os.environ, RILL_OPS_DATA=str(data))
    subprocess.run(["cargo", "bench", "--bench", "operators", "--", "--test"], cwd=ROOT, env=env, check=True)


def ensure_rill(path):
    if path is not None:
        return Path(path)
    rill = target_dir() / "release" / "rill"
    if not rill.exists():
        print("building rill (release)", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--bin", "rill"], cwd=ROOT, check=True)
    return rill


def median_time(fn, runs):
    fn()  # warm-up (file cache, lazy initialisation)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query and engine (default 5)")
    parser.add_argument("--rill", help="path of the rill binary (default: build target/release/rill)")
    parser.add_argument("--data", default=str(BENCH / "data" / "ops"), help="directory of fact/dim.parquet")
    args = parser.parse_args()

    ensure_duckdb()
    import duckdb

    data = Path(args.data).resolve()
    ensure_data(data)
    rill = ensure_rill(args.rill)

    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute(f"CREATE VIEW fact AS SELECT * FROM read_parquet('{data / 'fact.parquet'}')")
    con.execute(f"CREATE VIEW dim AS SELECT * FROM read_parquet('{data / 'dim.parquet'}')")

    rill_base = [
        str(rill), "--partitions", str(THREADS), "sql", "--format", "csv",
        "--table", f"fact={data / 'fact.parquet'}", "--table", f"dim={data / 'dim.parquet'}",
    ]

    def run_rill(sql):
        done = subprocess.run([*rill_base, sql], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"rill failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    rows = []
    for name, sql in QUERIES:
        duck = median_time(lambda: con.execute(sql).fetchall(), args.runs)
        try:
            ours = median_time(lambda: run_rill(sql), args.runs)
        except RuntimeError as e:
            print(f"{name}: {e}", file=sys.stderr)
            ours = None
        rows.append((name, duck, ours))

    print(f"\nmedians of {args.runs} runs, {THREADS} threads, data in {data}")
    print(f"{'query':<24} {'duckdb (s)':>11} {'rill (s)':>11} {'rill/duckdb':>12}")
    for name, duck, ours in rows:
        if ours is None:
            print(f"{name:<24} {duck:>11.3f} {'failed':>11} {'-':>12}")
        else:
            print(f"{name:<24} {duck:>11.3f} {ours:>11.3f} {ours / duck:>12.2f}")


if __name__ == "__main__":
    main()
