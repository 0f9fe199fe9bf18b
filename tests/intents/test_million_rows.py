"""A 1M-row training file is streamed: read lazily row by row and cleaned in one pass, never
held in memory as a whole file or twice as rows."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from backend.intents.importer import read_rows
from ml.intent.data import clean_examples

pytestmark = [pytest.mark.unit, pytest.mark.slow]
ROWS = 1_000_000


def test_million_row_csv_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("text,intent\n")
        for i in range(ROWS):
            # Every 10th row repeats an earlier text with the same label (a duplicate).
            n = i - 1 if i % 10 == 9 else i
            fh.write(f"customer message {n},intent_{n % 77}\n")
    size = path.stat().st_size

    rows = read_rows(path, "csv")
    first = next(rows)  # lazy: the first row comes before the rest of the file is read
    assert first == (2, "customer message 0", "intent_0")

    tracemalloc.start()
    texts, labels, report = clean_examples(
        (text, label) for _, text, label in read_rows(path, "csv")
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.n_used == len(texts) == len(labels) == ROWS - ROWS // 10
    assert report.duplicates == ROWS // 10 and report.n_classes == 77
    # What is kept (texts, labels, the duplicate index) dominates; a copy of the file's text or
    # of the row list would add hundreds of megabytes more.
    assert peak < 8 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
