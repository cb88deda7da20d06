#!/usr/bin/env python3
"""Expected Nexmark answers from an independent engine (DuckDB).

Generates events with `rill bench nexmark gen --events N --rate R --out DIR` (deterministic for
a seed), runs q0, q1, q2, q3 and q7 in DuckDB over the Parquet files and writes one CSV per
query to benchmarks/expected/nexmark/e<N>-r<R>/<query>.csv. The window query (q7) is written in
DuckDB's own SQL (time_bucket for the 10 s tumbling window) since DuckDB has no window table
functions; the others are the committed texts of benchmarks/queries/nexmark/.

CSV format (read by rill_benchmarks::tpch::check, as for TPC-H): a header of `name:TYPE`
(DuckDB's types), values as text, timestamps as Rill prints them (ISO, 'T', fraction only
when not zero), rows sorted by every column (the queries have no ORDER BY; the test sorts
Rill's rows the same way).

Usage:
  python3 benchmarks/scripts/nexmark_expected.py [--events 2000] [--rate 100] [--rill target/debug/rill]
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
QUERIES = os.path.join(ROOT, "benchmarks", "queries", "nexmark")
EXPECTED = os.path.join(ROOT, "benchmarks", "expected", "nexmark")

# q7 in DuckDB SQL: the same query with the TUMBLE window written as a time bucket.
Q7 = """
SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
FROM bid AS b
JOIN (
    SELECT max(price) AS maxprice, time_bucket(INTERVAL 10 SECOND, date_time) + INTERVAL 10 SECOND AS date_time
    FROM bid
    GROUP BY time_bucket(INTERVAL 10 SECOND, date_time)
) AS b1
ON b.price = b1.maxprice
WHERE b.date_time BETWEEN b1.date_time - INTERVAL 10 SECOND AND b1.date_time
"""


def render(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            frac = "%06d" % value.microsecond
            text += "." + (frac[:3] if frac.endswith("000") else frac)
        return text
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def query_text(name):
    if name == "q7":
        return Q7
    with open(os.path.join(QUERIES, name + ".sql")) as f:
        return f.read()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--rate", type=int, default=100)
    p.add_argument("--rill", default=os.path.join(ROOT, "target", "debug", "rill"))
    args = p.parse_args()
    try:
        import duckdb
    except ImportError:
        sys.exit("duckdb is missing: pip install duckdb")
    print("DuckDB", duckdb.__version__)
    out_dir = os.path.join(EXPECTED, "e%d-r%d" % (args.events, args.rate))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nexmark-") as data:
        subprocess.run(
            [args.rill, "bench", "nexmark", "gen", "--events", str(args.events), "--rate", str(args.rate), "--out", data],
            check=True,
        )
        con = duckdb.connect()
        con.execute("SET threads = 2")
        con.execute("SET TimeZone = 'UTC'")
        for t in ["person", "auction", "bid"]:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{os.path.join(data, t + '.parquet')}')")
        for name in ["q0", "q1", "q2", "q3", "q7"]:
            rel = con.sql("SELECT * FROM (%s) ORDER BY ALL" % query_text(name))
            header = ["%s:%s" % (n, t) for n, t in zip(rel.columns, rel.types)]
            rows = rel.fetchall()
            path = os.path.join(out_dir, name + ".csv")
            with open(path, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(header)
                for row in rows:
                    w.writerow([render(v) for v in row])
            print("%s: %d rows -> %s" % (name, len(rows), os.path.relpath(path, ROOT)))


if __name__ == "__main__":
    main()
