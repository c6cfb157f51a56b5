"""Make data/online_retail_sample.csv.gz: every row of a seeded random third of the Online Retail customers.

Run from the repository root with ../shared beside it: ``python scripts/make_sample.py``.
The rows are copied unchanged, so the importer's online-retail preset reads the sample as it reads the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import sys
from pathlib import Path

SOURCE = Path("../shared/data/online-retail/online_retail.csv.gz")
TARGET = Path("data/online_retail_sample.csv.gz")
SHARE = 0.3
SEED = 7


def main() -> None:
    with gzip.open(SOURCE, "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    customers = sorted({r[6] for r in body if r[6]})
    chosen = set(random.Random(SEED).sample(customers, int(len(customers) * SHARE)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    kept = [r for r in body if r[6] in chosen]
    writer.writerows(kept)
    # mtime=0: the same input gives the same bytes
    TARGET.write_bytes(gzip.compress(out.getvalue().encode(), compresslevel=9, mtime=0))
    size = TARGET.stat().st_size
    sys.stdout.write(f"{TARGET}: {len(kept):,} rows, {len(chosen):,} customers, {size / 1e6:.2f} MB\n")


if __name__ == "__main__":
    main()
