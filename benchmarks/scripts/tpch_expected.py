#!/usr/bin/env python3
"""Expected TPC-H answers from an independent engine (DuckDB).

Generates TPC-H data with `rill bench tpch gen --sf N --out DIR` (or uses --data DIR), registers
each table as a DuckDB view over read_parquet('<table>.parquet'), runs the 22 query texts of
benchmarks/queries/tpch/ and writes one CSV per query to benchmarks/expected/tpch/sf<N>/qNN.csv.

CSV format (read by rill_benchmarks::tpch::expected):
  * the header row holds `name:TYPE` per column, TYPE being DuckDB's type (e.g. `DECIMAL(38,2)`,
    `DOUBLE`, `BIGINT`, `VARCHAR`, `DATE`); the comparison uses it to choose between an exact
    (integers, decimals, text, dates) and a tolerant (floating point) comparison;
  * decimals as DuckDB prints them (str(Decimal)), floats as Python's shortest round-trip repr,
    dates ISO (YYYY-MM-DD), NULL as an empty field, text as is (CSV-quoted when needed);
  * rows in the order DuckDB returned them (every TPC-H query has an ORDER BY).

Usage:
  python3 benchmarks/scripts/tpch_expected.py --sf 0.01 --sf 0.1
  python3 benchmarks/scripts/tpch_expected.py --sf 0.1 --data /tmp/tpch-sf0.1
"""

import argparse
import csv
import datetime
import decimal
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUERIES = os.path.join(ROOT, "benchmarks", "queries", "tpch")
EXPECTED = os.path.join(ROOT, "benchmarks", "expected", "tpch")
TABLES = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]


def sf_name(sf):
    """0.01 -> 'sf0.01', 1 -> 'sf1'."""
    text = ("%f" % sf).rstrip("0").rstrip(".")
    return "sf" + text


def render(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def generate(rill, sf, out):
    subprocess.run([rill, "bench", "tpch", "gen", "--sf", str(sf), "--out", out], check=True)


def run_queries(duckdb, data, out_dir):
    con = duckdb.connect()
    con.execute("SET threads = 2")
    for t in TABLES:
        path = os.path.join(data, t + ".parquet")
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
    os.makedirs(out_dir, exist_ok=True)
    for n in range(1, 23):
        with open(os.path.join(QUERIES, "q%02d.sql" % n)) as f:
            sql = f.read()
        rel = con.sql(sql)
        header = ["%s:%s" % (name, typ) for name, typ in zip(rel.columns, rel.types)]
        rows = rel.fetchall()
        path = os.path.join(out_dir, "q%02d.csv" % n)
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            for row in rows:
                w.writerow([render(v) for v in row])
        print("Q%02d: %d rows -> %s" % (n, len(rows), os.path.relpath(path, ROOT)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sf", type=float, action="append", required=True, help="scale factor (repeatable)")
    p.add_argument("--data", help="existing data directory (only with a single --sf)")
    p.add_argument("--rill", default=os.path.join(ROOT, "target", "debug", "rill"), help="rill binary")
    p.add_argument("--out", default=EXPECTED, help="root of the expected answers")
    args = p.parse_args()
    try:
        import duckdb
    except ImportError:
        sys.exit("duckdb is missing: pip install duckdb")
    if args.data and len(args.sf) != 1:
        sys.exit("--data needs exactly one --sf")
    print("DuckDB", duckdb.__version__)
    for sf in args.sf:
        out_dir = os.path.join(args.out, sf_name(sf))
        if args.data:
            run_queries(duckdb, args.data, out_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="tpch-") as data:
                generate(args.rill, sf, data)
                run_queries(duckdb, data, out_dir)


if __name__ == "__main__":
    main()
