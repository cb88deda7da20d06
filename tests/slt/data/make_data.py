#!/usr/bin/env python3
"""Writes the small data files the .slt tests read, with DuckDB (an independent writer).

Run from anywhere: python3 tests/slt/data/make_data.py. The files are committed; rerun only
to change them.
"""
import os

import duckdb

here = os.path.dirname(os.path.abspath(__file__))
con = duckdb.connect()
con.execute("""
CREATE TABLE orders AS
SELECT i AS o_id,
       (i % 7) AS o_cust,
       CAST(round((i * 37 % 1000) / 10.0, 2) AS DECIMAL(10,2)) AS o_amount,
       DATE '2024-01-01' + CAST(i % 365 AS INTEGER) AS o_date,
       CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'shipped' ELSE NULL END AS o_status
FROM range(1, 3001) t(i)
""")
# Two files with the same schema (a glob reads both), several row groups each.
con.execute(f"COPY (SELECT * FROM orders WHERE o_id <= 1500 ORDER BY o_id) TO '{here}/orders_1.parquet' (FORMAT PARQUET, ROW_GROUP_SIZE 500)")
con.execute(f"COPY (SELECT * FROM orders WHERE o_id > 1500 ORDER BY o_id) TO '{here}/orders_2.parquet' (FORMAT PARQUET, ROW_GROUP_SIZE 500)")
# A file whose schema differs (o_amount is a DOUBLE): mixing it into a glob is an error.
os.makedirs(f"{here}/mismatch", exist_ok=True)
con.execute(f"COPY (SELECT o_id, CAST(o_amount AS DOUBLE) AS o_amount FROM orders LIMIT 10) TO '{here}/mismatch/orders_3.parquet' (FORMAT PARQUET)")
con.execute(f"COPY (SELECT * FROM orders WHERE o_id <= 10 ORDER BY o_id) TO '{here}/mismatch/orders_0.parquet' (FORMAT PARQUET)")
# CSV and JSON lines.
con.execute(f"COPY (SELECT o_id, o_cust, o_status FROM orders WHERE o_id <= 20 ORDER BY o_id) TO '{here}/orders.csv' (HEADER, DELIMITER ',')")
con.execute(f"COPY (SELECT o_id, o_cust, o_status FROM orders WHERE o_id <= 20 ORDER BY o_id) TO '{here}/orders.json' (FORMAT JSON)")
# A CSV with a malformed row (line 4 has one field too many) and a file that is not Parquet.
with open(f"{here}/bad.csv", "w") as f:
    f.write("a,b\n1,x\n2,y\n3,z,extra\n4,w\n")
with open(f"{here}/corrupt.parquet", "wb") as f:
    f.write(b"PAR1" + bytes(range(256)) * 4 + b"not a footer")
print("written to", here)
