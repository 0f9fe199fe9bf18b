"""The grounding bench's data: its query samples (BANKING77 test and dev, CLINC150 ``oos``), the
per-query records it writes (JSONL, appended as they come, so a crash loses nothing) and the
confidence bound it reports.

Samples are fixed by the seed. Within an intent the rows are shuffled by a generator seeded with
(seed, intent) and the first ``per_intent`` taken, so the ``--per-intent 1`` sample is a subset of
the ``--per-intent 5`` one and a query keeps its id (``test-card_arrival-0``) whatever the size.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RECORDS = ROOT / "var" / "bench" / "grounding"
DEMO_EXAMPLES = ROOT / "data" / "demo" / "intent_examples.csv"
SPLITS = ("test", "dev", "oos")
OOS_LABEL = "oos"


@dataclass(frozen=True)
class Query:
    """One bench question: its id, split, text and true intent (``oos`` for CLINC150's)."""

    id: str
    split: str
    text: str
    intent: str


def _by_intent(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        raise SystemExit(f"error: {path} not found (BANKING77 folder: --data)")
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["category"], []).append(row["text"].strip())
    return out


def _demo_texts() -> set[str]:
    with DEMO_EXAMPLES.open(encoding="utf-8") as fh:
        return {r["text"].strip().lower() for r in csv.DictReader(fh)}


def _stratified(
    split: str, groups: dict[str, list[str]], per_intent: int, seed: int
) -> list[Query]:
    out: list[Query] = []
    for intent in sorted(groups):
        rows = sorted(set(groups[intent]))  # file order aside: the same sample on any copy
        random.Random(f"{seed}:{split}:{intent}").shuffle(rows)
        out += [Query(f"{split}-{intent}-{k}", split, t, intent) for k, t in enumerate(rows)][
            :per_intent
        ]
    return out


def load_split(
    split: str, *, data: Path, clinc: Path, per_intent: int, seed: int, oos_size: int = 200
) -> list[Query]:
    """The queries of one split: ``test`` (BANKING77 test.csv, ``per_intent`` per intent),
    ``dev`` (train.csv, ``per_intent`` per intent, none of them a demo intent example) or
    ``oos`` (CLINC150 ``oos_train`` + ``oos_val``, never used to choose the retrieval floor)."""
    if split == "test":
        return _stratified(split, _by_intent(data / "test.csv"), per_intent, seed)
    if split == "dev":
        demo = _demo_texts()
        groups = {
            k: [t for t in v if t.lower() not in demo]
            for k, v in _by_intent(data / "train.csv").items()
        }
        return _stratified(split, groups, per_intent, seed)
    if split == "oos":
        path = clinc / "train_val.json"
        if not path.exists():
            raise SystemExit(f"error: {path} not found (CLINC150 folder: --clinc)")
        raw = json.loads(path.read_text(encoding="utf-8"))
        texts = [t for t, _ in raw["oos_train"]] + [t for t, _ in raw["oos_val"]]
        rows = [Query(f"oos-{i}", split, t.strip(), OOS_LABEL) for i, t in enumerate(texts)]
        return rows[:oos_size]
    raise ValueError(f"unknown split {split!r}")


def safe_name(name: str) -> str:
    """A generator name usable in a file name (``HuggingFaceTB/SmolLM2`` -> ``HuggingFaceTB_…``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "generator"


def records_path(generator: str, split: str, folder: Path = RECORDS) -> Path:
    """``var/bench/grounding/<generator>-<split>.jsonl``."""
    return folder / f"{safe_name(generator)}-{split}.jsonl"


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a file (a torn last line from a crash is skipped); later ids win."""
    if not path.exists():
        return []
    found: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        found[row["id"]] = row
    return list(found.values())


class RecordWriter:
    """Appends one JSON line per record and flushes it at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = path.open("a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        """Append ``row``."""
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


def wilson_upper(k: int, n: int, z: float = 1.96) -> float | None:
    """Upper end of the two-sided 95 % Wilson score interval of the share k/n."""
    if n == 0:
        return None
    p = k / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return round(min(1.0, (centre + margin) / (1 + z * z / n)), 4)


def share(k: float, n: int) -> float | None:
    """k/n rounded, None for an empty whole."""
    return round(k / n, 4) if n else None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (linear), None when empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 2)
