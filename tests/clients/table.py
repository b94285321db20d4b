"""Prints the results of run.sh as a table and exits 1 if any check failed."""

import sys

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
header = ["round", "client", "version", "operation", "result", "detail"]
widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
for row in [header] + rows:
    print("  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(row)))
counts: dict = {}
for row in rows:
    counts[row[4]] = counts.get(row[4], 0) + 1
print("\n" + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
sys.exit(1 if counts.get("FAIL") else 0)
