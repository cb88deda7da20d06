#!/usr/bin/env python3
"""Run the 22 TPC-H queries once in Rill and in DuckDB, each engine in one process, and report
per-query times and each process's peak resident memory (the large-scale-factor check: at
SF 10 both must stay under the machine's memory).

  * Rill:   `rill --partitions T bench tpch run --data DIR --iterations K [--no-check]`, run
            under this script; peak RSS is the child's ru_maxrss.
  * DuckDB: a child Python process with `SET threads = T`, each table a view over
            read_parquet('<table>.parquet'), the same query texts (benchmarks/queries/tpch);
            peak RSS is that child's ru_maxrss. DuckDB's own memory limit is left at its
            default (80% of RAM).
Each process's peak is its own (os.wait4), and the table gives each engine's median per query.

Usage:
  python3 benchmarks/scripts/tpch_memory.py --data DIR [--threads 2] [--iterations 1]
      [--rill target/release/rill] [--no-check] [--out table.md]
"""

import argparse
import json
import os
import re
import tempfile
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "benchmarks" / "queries" / "tpch"
TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]

DUCKDB_WORKER = r"""
import json, os, sys, time
import duckdb
data, threads, iterations, queries = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
for t in %(tables)r:
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{os.path.join(data, t + '.parquet')}')")
out = {}
for n in range(1, 23):
    sql = open(os.path.join(queries, "q%%02d.sql" %% n)).read()
    times = []
    rows = 0
    for _ in range(iterations):
        start = time.perf_counter()
        rows = len(con.sql(sql).fetchall())
        times.append(time.perf_counter() - start)
    times.sort()
    out[n] = (times[(len(times) - 1) // 2], rows)
print(json.dumps(out))
""" % {"tables": TABLES}


def run_measured(cmd):
    """Runs `cmd`; returns (stdout, stderr, exit code, peak RSS in MB, wall seconds). The peak
    is this child's own ru_maxrss (os.wait4), not a maximum over all children."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return out.read().decode(), err.read().decode(), proc.returncode, usage.ru_maxrss / 1024.0, wall


def run_rill(args):
    cmd = [args.rill, "--partitions", str(args.threads), "bench", "tpch", "run", "--data", args.data,
           "--iterations", str(args.iterations)]
    if args.no_check:
        cmd.append("--no-check")
    stdout, stderr, rc, rss, wall = run_measured(cmd)
    if rc != 0:
        sys.exit("rill failed:\n" + stdout + stderr)
    times = {}
    for line in stdout.splitlines():
        m = re.match(r"Q(\d\d)\s+.*?\s([\d.]+) s\s+(\d+)\s+(\S+)", line)
        if m:
            times[int(m.group(1))] = (float(m.group(2)), int(m.group(3)), m.group(4))
    return times, rss, wall


def run_duckdb(args):
    stdout, stderr, rc, rss, wall = run_measured(
        [sys.executable, "-c", DUCKDB_WORKER, args.data, str(args.threads), str(args.iterations), str(QUERIES)]
    )
    if rc != 0:
        sys.exit("duckdb failed:\n" + stderr)
    out = {int(k): v for k, v in json.loads(stdout.strip().splitlines()[-1]).items()}
    return out, rss, wall


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--rill", default=str(ROOT / "target" / "release" / "rill"))
    p.add_argument("--no-check", action="store_true")
    p.add_argument("--out")
    args = p.parse_args()
    rill, rill_rss, rill_wall = run_rill(args)
    duck, duck_rss, duck_wall = run_duckdb(args)
    import duckdb
    lines = [
        f"TPC-H, data {args.data}, {args.threads} threads, median of {args.iterations} run(s), "
        f"seconds (DuckDB {duckdb.__version__})",
        "",
        "| query | rill | rows | result | duckdb | rows | rill/duckdb |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    rt = dt = 0.0
    for n in range(1, 23):
        r = rill.get(n)
        d = duck.get(n)
        if r is None or d is None:
            lines.append(f"| Q{n:02d} | {r} | | | {d} | | |")
            continue
        rt += r[0]
        dt += d[0]
        lines.append(f"| Q{n:02d} | {r[0]:.3f} | {r[1]} | {r[2]} | {d[0]:.3f} | {d[1]} | {r[0] / d[0]:.2f} |")
    lines.append(f"| **total** | {rt:.3f} | | | {dt:.3f} | | {rt / dt:.2f} |")
    lines.append("")
    lines.append(f"Peak RSS: Rill {rill_rss:.0f} MB (process wall {rill_wall:.1f} s), "
                 f"DuckDB {duck_rss:.0f} MB (process wall {duck_wall:.1f} s)")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
