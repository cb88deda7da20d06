#!/usr/bin/env python3
"""Checks the expected results of every tests/slt/*.slt file against DuckDB.

The .slt files are the record of what Rill must answer; this script runs the same statements
and queries in DuckDB (an independent engine) and fails if any expected result differs from
DuckDB's. Records marked `onlyif rill` are Rill-specific (syntax DuckDB lacks, error cases)
and skipped; records marked `onlyif duckdb` run only here (DuckDB spellings of Rill-only
setup statements). Floats compare with a relative tolerance of 1e-9.

Usage: python3 tests/slt/verify_duckdb.py [file.slt ...]
"""
import datetime
import decimal
import glob
import math
import os
import sys

import duckdb


def parse(path):
    """Yields (line_no, kind, header_tokens, conditions, sql, expected_lines)."""
    with open(path) as f:
        lines = f.read().split("\n")
    i, conditions = 0, []
    while i < len(lines):
        line = lines[i].strip()
        if not line or line.startswith("#"):
            i += 1
            continue
        tokens = line.split()
        if tokens[0] in ("onlyif", "skipif"):
            conditions.append((tokens[0], tokens[1]))
            i += 1
            continue
        if tokens[0] in ("statement", "query"):
            start = i + 1
            i += 1
            sql_lines, expected = [], []
            while i < len(lines) and lines[i].strip() and lines[i].strip() != "----":
                sql_lines.append(lines[i])
                i += 1
            if i < len(lines) and lines[i].strip() == "----":
                i += 1
                while i < len(lines) and lines[i].strip():
                    expected.append(lines[i].strip())
                    i += 1
            yield start, tokens[0], tokens[1:], conditions, "\n".join(sql_lines), expected
            conditions = []
            continue
        # Other directives (halt, hash-threshold, control ...) are not used by our files.
        i += 1
        conditions = []


def render(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v if v else "(empty)"
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, (datetime.date, decimal.Decimal)):
        return str(v)
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


def same(expected, actual):
    if expected == actual:
        return True
    try:
        a, b = float(expected), float(actual)
    except ValueError:
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_file(path):
    con = duckdb.connect()
    slt_dir = os.path.dirname(os.path.abspath(path))
    failures, checked = [], 0
    for line_no, kind, header, conditions, sql, expected in parse(path):
        if ("onlyif", "rill") in conditions or ("skipif", "duckdb") in conditions:
            continue
        if any(c == "onlyif" and e != "duckdb" for c, e in conditions):
            continue
        sql = sql.replace("${SLT_DIR}", slt_dir)
        is_error = header[:1] == ["error"]
        if is_error:
            continue  # error behaviour is Rill's own; DuckDB's messages differ
        try:
            rows = con.execute(sql).fetchall()
        except Exception as e:  # noqa: BLE001
            failures.append(f"{path}:{line_no}: DuckDB failed: {e}\n  {sql}")
            continue
        if kind != "query":
            continue
        checked += 1
        sort = "rowsort" in header
        actual = [" ".join(render(v) for v in row) for row in rows]
        exp = list(expected)
        if sort:
            actual.sort()
            exp.sort()
        ok = len(actual) == len(exp) and all(
            len(ea.split(" ")) == len(aa.split(" ")) and all(same(x, y) for x, y in zip(ea.split(" "), aa.split(" ")))
            for ea, aa in zip(exp, actual)
        )
        if not ok:
            failures.append(
                f"{path}:{line_no}: expected differs from DuckDB\n  {sql}\n  expected: {exp}\n  duckdb:   {actual}"
            )
    return checked, failures


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "*.slt")))
    total, all_failures = 0, []
    for f in files:
        checked, failures = check_file(f)
        total += checked
        all_failures += failures
    for f in all_failures:
        print(f)
    print(f"{total - len(all_failures)} passed, {len(all_failures)} failed")
    sys.exit(1 if all_failures else 0)


if __name__ == "__main__":
    main()
