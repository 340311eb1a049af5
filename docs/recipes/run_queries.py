#!/usr/bin/env python3
"""Runs the statements of a DuckDB SQL file (separated by a semicolon at the end of a line) and
prints each result as JSON: python3 docs/recipes/run_queries.py docs/recipes/fleet.sql (in the
directory that holds fleet.jsonl). Needs the duckdb package (pip install duckdb)."""
import duckdb, json, sys
con = duckdb.connect()
sql = open(sys.argv[1]).read()
out = []
for stmt in sql.split(";\n"):
    body = "\n".join(l for l in stmt.splitlines() if not l.strip().startswith("--")).strip()
    if not body:
        continue
    r = con.sql(body)
    if r is not None:
        out.append([list(row) for row in r.fetchall()])
print(json.dumps(out))
