#!/usr/bin/env python3
"""Compare Rill with DuckDB, Polars and DataFusion on the 22 TPC-H queries.

All four engines read the same Parquet files (written by `rill bench tpch gen`) with the same
number of threads:
  * Rill:       `rill --partitions T bench tpch run --data DIR --query N --iterations K+1 --no-check`,
                one process per query; the script parses the median Rill prints, so Rill's time
                excludes process start-up (see "warm-up" below);
  * DuckDB:     `SET threads = T`, each table a view over read_parquet('<table>.parquet');
  * Polars:     POLARS_MAX_THREADS=T, pl.SQLContext over pl.scan_parquet LazyFrames (where
                Polars SQL cannot run a query the table says n/a and the error is listed below);
  * DataFusion: SessionConfig().with_target_partitions(T), each table register_parquet'd.
DuckDB, Polars and DataFusion run in-process in a worker subprocess of this script, one per
engine and query (Polars reads its thread count when it is imported, and a subprocess can be
killed when a query exceeds --timeout). The SQL texts are the files in benchmarks/queries/tpch,
unchanged. Results are collected completely (Arrow tables / a DataFrame) but not checked;
`rill bench tpch run` checks Rill's answers.

Timing: one warm-up run, then --iterations K timed runs; the table shows the median. Rill has no
warm-up switch, so it runs K+1 iterations and reports the lower median of them, which is the
median of the K warm runs whenever the first (cold) run is the slowest (exactly so for odd K).

A query that fails shows `error` (Rill, DuckDB, DataFusion) or `n/a` (Polars), one that takes
longer than --timeout seconds for a single run shows `timeout`; the reasons are listed under the
table. Totals are over the queries every engine completed, and again without Polars.

Dependencies (duckdb, polars, datafusion) are installed into a private venv
(benchmarks/data/venv-compare) if the current Python lacks them.

Usage:
  python3 benchmarks/scripts/compare_tpch.py --sf 1
  python3 benchmarks/scripts/compare_tpch.py --data DIR --threads 2 --iterations 3 --out table.md
  python3 benchmarks/scripts/compare_tpch.py --sf 0.01 --rill target/debug/rill --query 1 --query 6
"""

import argparse
import json
import os
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
QUERIES = BENCH / "queries" / "tpch"
TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]
PEERS = ["duckdb", "polars", "datafusion"]
ENGINES = ["rill"] + PEERS
PACKAGES = ["duckdb", "polars", "datafusion"]
# Seconds allowed for a worker to start (imports, registering the tables) before its first run.
STARTUP_SLACK = 60.0


def sf_name(sf):
    """0.01 -> 'sf0.01', 1 -> 'sf1' (as tpch_expected.py)."""
    text = ("%f" % sf).rstrip("0").rstrip(".")
    return "sf" + text


def query_sql(n):
    return (QUERIES / ("q%02d.sql" % n)).read_text()


# --------------------------------------------------------------------------------------------
# Worker: runs one query on one in-process engine; prints one JSON object per line.
# --------------------------------------------------------------------------------------------


def emit(obj):
    print(json.dumps(obj), flush=True)


def engine_runner(engine, data, threads):
    """Returns a function that runs a SQL text to completion and returns the row count."""
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        for t in TABLES:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{data / (t + '.parquet')}')")
        # DuckDB 2 names it to_arrow_table; older versions fetch_arrow_table.
        fetch = "to_arrow_table" if hasattr(con, "to_arrow_table") else "fetch_arrow_table"
        return lambda sql: getattr(con.execute(sql), fetch)().num_rows
    if engine == "polars":
        import polars as pl  # POLARS_MAX_THREADS is set by the parent

        ctx = pl.SQLContext({t: pl.scan_parquet(data / (t + ".parquet")) for t in TABLES})
        return lambda sql: ctx.execute(sql, eager=False).collect().height
    if engine == "datafusion":
        from datafusion import SessionConfig, SessionContext

        ctx = SessionContext(SessionConfig().with_target_partitions(threads))
        for t in TABLES:
            ctx.register_parquet(t, str(data / (t + ".parquet")))
        return lambda sql: sum(b.num_rows for b in ctx.sql(sql).collect())
    raise ValueError(engine)


def engine_version(engine):
    if engine == "polars":
        import polars as pl

        return pl.__version__
    module = __import__(engine)
    return getattr(module, "__version__", "?")


def worker(args):
    data = Path(args.data)
    try:
        run = engine_runner(args.worker, data, args.threads)
        emit({"version": engine_version(args.worker)})
        sql = query_sql(args.query[0])
        start = time.perf_counter()
        rows = run(sql)
        emit({"warmup": time.perf_counter() - start, "rows": rows})
        for _ in range(args.iterations):
            start = time.perf_counter()
            rows = run(sql)
            emit({"run": time.perf_counter() - start, "rows": rows})
    except Exception as e:  # noqa: BLE001 - any engine error is a result
        emit({"error": f"{type(e).__name__}: {one_line(str(e))}"})


# --------------------------------------------------------------------------------------------
# Parent: dependencies, data, rill, running the workers, the table.
# --------------------------------------------------------------------------------------------


def one_line(text, limit=300):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ensure_packages():
    """Re-runs this script inside benchmarks/data/venv-compare if a package is missing."""
    missing = []
    for p in PACKAGES:
        try:
            __import__(p)
        except ImportError:
            missing.append(p)
    if not missing:
        return
    env_dir = BENCH / "data" / "venv-compare"
    python = env_dir / "bin" / "python"
    if os.environ.get("RILL_COMPARE_IN_VENV"):
        sys.exit(f"{', '.join(missing)} still missing inside the venv; pip install {' '.join(PACKAGES)}")
    if not python.exists():
        print(f"creating a venv for {', '.join(PACKAGES)} in {env_dir}", file=sys.stderr)
        venv.create(env_dir, with_pip=True)
    check = subprocess.run([str(python), "-c", "import " + ", ".join(PACKAGES)], capture_output=True)
    if check.returncode != 0:
        print(f"installing {' '.join(PACKAGES)} into {env_dir}", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    env = dict(os.environ, RILL_COMPARE_IN_VENV="1")
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def ensure_rill(path):
    if path is not None:
        rill = Path(path).resolve()
        if not rill.exists():
            sys.exit(f"--rill: {rill} does not exist")
        return rill
    rill = target_dir() / "release" / "rill"
    if not rill.exists():
        print("building rill (release)", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--bin", "rill"], cwd=ROOT, check=True)
    return rill


def ensure_data(args, rill):
    if args.data:
        data = Path(args.data).resolve()
    else:
        data = (BENCH / "data" / ("tpch-" + sf_name(args.sf))).resolve()
    missing = [t for t in TABLES if not (data / (t + ".parquet")).exists()]
    if missing:
        if args.data:
            sys.exit(f"{data} lacks {', '.join(missing)}.parquet; generate it with `rill bench tpch gen`")
        print(f"generating TPC-H SF {args.sf:g} into {data}", file=sys.stderr)
        subprocess.run([str(rill), "bench", "tpch", "gen", "--sf", "%g" % args.sf, "--out", str(data)], check=True)
    return data


class Result:
    """One engine's outcome for one query: a median time, or a status with a reason."""

    def __init__(self, median=None, status=None, reason=None, rows=None):
        self.median, self.status, self.reason, self.rows = median, status, reason, rows

    @property
    def ok(self):
        return self.median is not None

    def cell(self):
        return "%.3f" % self.median if self.ok else self.status


def read_lines(proc, sink):
    for line in proc.stdout:
        sink.put(line)
    sink.put(None)


def run_streaming(cmd, env, deadlines):
    """Runs cmd, giving it deadlines[i] seconds for its i-th output line (the last deadline for
    any further lines). Returns (lines, timed_out, stderr)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=read_lines, args=(proc, lines), daemon=True).start()
    err_chunks = []
    err_thread = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    err_thread.start()
    got = []
    timed_out = False
    while True:
        wait = deadlines[min(len(got), len(deadlines) - 1)]
        try:
            line = lines.get(timeout=wait)
        except queue.Empty:
            timed_out = True
            proc.kill()
            break
        if line is None:
            break
        got.append(line)
    proc.wait()
    err_thread.join(timeout=5)
    return got, timed_out, "".join(err_chunks)


def run_peer(engine, n, data, args):
    env = dict(os.environ)
    if engine == "polars":
        env["POLARS_MAX_THREADS"] = str(args.threads)
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--data", str(data),
        "--query", str(n), "--threads", str(args.threads), "--iterations", str(args.iterations),
    ]
    # First line (version) after start-up; then one line per run, each within --timeout.
    lines, timed_out, stderr = run_streaming(cmd, env, [STARTUP_SLACK, args.timeout])
    times, rows, version = [], None, None
    for line in lines:
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "version" in msg:
            version = msg["version"]
        if "error" in msg:
            status = "n/a" if engine == "polars" else "error"
            return Result(status=status, reason=msg["error"]), version
        if "run" in msg:
            times.append(msg["run"])
        if "rows" in msg:
            rows = msg["rows"]
    if timed_out:
        return Result(status="timeout", reason=f"a run took over {args.timeout:g} s"), version
    if len(times) != args.iterations:
        return Result(status="error", reason=f"worker died: {one_line(stderr) or 'no output'}"), version
    return Result(median=statistics.median(times), rows=rows), version


RILL_LINE = re.compile(r"^Q(\d+)\s.*?\s(\d+\.\d+) s\s+(\d+)\s+(.*)$")
RILL_FAILED = re.compile(r"^Q(\d+)\s.*?\s-\s+-\s+(.*)$")


def run_rill(rill, n, data, args):
    cmd = [
        str(rill), "--partitions", str(args.threads), "bench", "tpch", "run", "--data", str(data),
        "--query", str(n), "--iterations", str(args.iterations + 1), "--no-check",
    ]
    # Rill prints its line when all runs are done.
    limit = STARTUP_SLACK + args.timeout * (args.iterations + 1)
    lines, timed_out, stderr = run_streaming(cmd, dict(os.environ), [limit])
    if timed_out:
        return Result(status="timeout", reason=f"{args.iterations + 1} runs took over {limit:g} s")
    for line in lines:
        m = RILL_LINE.match(line.rstrip("\n"))
        if m and int(m.group(1)) == n:
            outcome = m.group(4).strip()
            if outcome not in ("ran", "ok"):
                return Result(status="error", reason=one_line(outcome))
            return Result(median=float(m.group(2)), rows=int(m.group(3)))
        m = RILL_FAILED.match(line.rstrip("\n"))
        if m and int(m.group(1)) == n:
            return Result(status="error", reason=one_line(re.sub(r"^error:\s*", "", m.group(2))))
    return Result(status="error", reason=one_line(stderr or "".join(lines)) or "no output")


def ratio(a, b):
    return "%.2f" % (a.median / b.median) if a.ok and b.ok and b.median > 0 else "-"


def render_table(queries, results, args, data, versions):
    out = []
    vers = ", ".join(f"{e} {versions.get(e, '?')}" for e in PEERS)
    out.append(
        f"TPC-H, data {data}, {args.threads} threads, median of {args.iterations} runs after a "
        f"warm-up, seconds ({vers})"
    )
    out.append("")
    out.append("| query | rill | duckdb | polars | datafusion | rill/duckdb | rill/datafusion |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for n in queries:
        r = results[n]
        cells = [r[e].cell() for e in ENGINES]
        out.append(f"| Q{n:02d} | " + " | ".join(cells) + f" | {ratio(r['rill'], r['duckdb'])} | "
                   f"{ratio(r['rill'], r['datafusion'])} |")

    def total_row(label, engines):
        done = [n for n in queries if all(results[n][e].ok for e in engines)]
        sums = {e: sum(results[n][e].median for n in done) for e in engines}
        cells = ["%.3f" % sums[e] if e in engines else "-" for e in ENGINES]

        def r(a, b):
            return "%.2f" % (sums[a] / sums[b]) if done and sums.get(b) else "-"

        return f"| **{label}** ({len(done)} queries) | " + " | ".join(cells) + \
            f" | {r('rill', 'duckdb')} | {r('rill', 'datafusion')} |"

    out.append(total_row("total, all engines", ENGINES))
    out.append(total_row("total without polars", ["rill", "duckdb", "datafusion"]))
    out.append("")
    over = [
        f"Q{n:02d} ({results[n]['rill'].median / results[n]['duckdb'].median:.2f}×)"
        for n in queries
        if results[n]["rill"].ok and results[n]["duckdb"].ok
        and results[n]["rill"].median > 3 * results[n]["duckdb"].median
    ]
    failed_rill = [f"Q{n:02d}" for n in queries if not results[n]["rill"].ok]
    out.append("Queries over 3× DuckDB: " + (", ".join(over) if over else "none"))
    if failed_rill:
        out.append("Queries Rill did not complete: " + ", ".join(failed_rill))
    mismatched = []
    for n in queries:
        counts = {e: results[n][e].rows for e in ENGINES if results[n][e].ok and results[n][e].rows is not None}
        if len(set(counts.values())) > 1:
            mismatched.append(f"Q{n:02d} (" + ", ".join(f"{e} {c}" for e, c in counts.items()) + ")")
    if mismatched:
        out.append("Row counts differ: " + ", ".join(mismatched))
    notes = [
        f"- Q{n:02d} {e}: {results[n][e].status}: {results[n][e].reason}"
        for n in queries for e in ENGINES if not results[n][e].ok
    ]
    if notes:
        out.append("")
        out.append("Not completed:")
        out.extend(notes)
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", help="directory of the eight <table>.parquet files")
    src.add_argument("--sf", type=float, default=1.0,
                     help="scale factor: use benchmarks/data/tpch-sfN, generating it if missing (default 1)")
    p.add_argument("--threads", type=int, default=2, help="threads / partitions for every engine (default 2)")
    p.add_argument("--iterations", type=int, default=3, help="timed runs per query after one warm-up (default 3)")
    p.add_argument("--query", type=int, action="append", help="run only this query (repeatable; default all 22)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for one run of a query (default 300)")
    p.add_argument("--rill", help="path of the rill binary (default: target/release/rill, built if missing)")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma-separated subset of rill,duckdb,polars,datafusion (others show 'skipped')")
    p.add_argument("--out", help="also write the table (markdown) to this file")
    p.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.iterations < 1:
        p.error("--iterations must be at least 1")

    if args.worker:
        worker(args)
        return

    ensure_packages()
    rill = ensure_rill(args.rill)
    data = ensure_data(args, rill)
    queries = args.query or list(range(1, 23))
    for n in queries:
        if not 1 <= n <= 22:
            p.error(f"no TPC-H query {n}")
    chosen = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in chosen:
        if e not in ENGINES:
            p.error(f"--engines: unknown engine {e}")

    results, versions = {}, {}
    for n in queries:
        results[n] = {}
        for e in ENGINES:
            if e not in chosen:
                results[n][e] = Result(status="skipped", reason="not in --engines")
            elif e == "rill":
                results[n][e] = run_rill(rill, n, data, args)
            else:
                results[n][e], version = run_peer(e, n, data, args)
                if version:
                    versions[e] = version
        cells = "  ".join(f"{e} {results[n][e].cell()}" for e in ENGINES)
        print(f"Q{n:02d}  {cells}", file=sys.stderr, flush=True)

    table = render_table(queries, results, args, data, versions)
    print()
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table)
        print(f"\nwritten to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
