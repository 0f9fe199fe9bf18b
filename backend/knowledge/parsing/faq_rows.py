"""FAQ rows (CSV records or JSON objects) into ``FaqEntry``: column aliases, cleaning, warnings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from backend.knowledge.parsing.types import FaqEntry, IngestError, IngestLimits

MAX_ALTERNATIVES = 3
MAX_WARNINGS = 20

# First alias wins, so an explicit "question" column beats a "title" column next to it.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "question": ("question", "q", "query", "title"),
    "answer": ("answer", "a", "response", "content", "body"),
    "category": ("category", "topic"),
    "tags": ("tags", "tag", "keywords"),
    "url": ("url", "link", "source_url"),
    "id": ("id", "external_id", "faq_id"),
    "alternatives": ("alternatives", "alternative_questions", "alternative", "alts"),
}
_ALT_COLUMN = re.compile(r"^(?:alternative|alt)_?([1-9])$")


def normalize_key(name: str) -> str:
    """A column or key name as matched against the aliases ("Alt 1" -> "alt_1")."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").strip().lower())


@dataclass(frozen=True)
class Columns:
    """Where each field sits in a row: canonical field -> index, plus alt_N columns."""

    fields: dict[str, int]
    alt: tuple[int, ...]

    @classmethod
    def resolve(cls, names: Sequence[str]) -> Columns:
        keys = [normalize_key(n) for n in names]
        fields: dict[str, int] = {}
        for field, aliases in FIELD_ALIASES.items():
            for alias in aliases:
                if alias in keys:
                    fields[field] = keys.index(alias)
                    break
        numbered = sorted(
            (int(m.group(1)), i) for i, k in enumerate(keys) if (m := _ALT_COLUMN.match(k))
        )
        return cls(fields, tuple(i for _, i in numbered))

    @property
    def complete(self) -> bool:
        return "question" in self.fields and "answer" in self.fields


def looks_like_faq_header(cells: Sequence[str]) -> bool:
    """True when these column names include a question and an answer column."""
    return Columns.resolve(cells).complete


class Warnings:
    """Collects at most MAX_WARNINGS lines so a broken 100k-row file can't flood the UI."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.hidden = 0
        self.skipped = 0

    def add(self, line: str) -> None:
        if len(self.lines) < MAX_WARNINGS:
            self.lines.append(line)
        else:
            self.hidden += 1

    def skip(self, line: str) -> None:
        self.skipped += 1
        self.add(line)

    def result(self, rows: int) -> list[str]:
        out = [f"Skipped {self.skipped} of {rows} rows (see below)."] if self.skipped else []
        out += self.lines
        if self.hidden:
            out.append(f"...and {self.hidden} more warnings not shown.")
        return out


def _scalar(value: object) -> str | None:
    """Text of a cell/JSON value; None for lists and objects, which are not text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return str(value)
    return None


def _split(value: object, separators: str) -> list[str]:
    """A list value, or a string split on the first separator it contains."""
    if isinstance(value, list):
        return [p for p in (_scalar(v) or "" for v in value) if p]
    text = _scalar(value) or ""
    sep = next((s for s in separators if s in text), None)
    return [p.strip() for p in (text.split(sep) if sep else [text]) if p.strip()]


def _dedupe(values: Iterable[str], exclude: str = "") -> list[str]:
    seen = {exclude.casefold()} if exclude else set()
    out: list[str] = []
    for value in values:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out


def _cell(values: Sequence[object], cols: Columns, field: str) -> object:
    index = cols.fields.get(field)
    return values[index] if index is not None and index < len(values) else None


def row_entry(
    values: Sequence[object], cols: Columns, where: str, warn: Warnings
) -> FaqEntry | None:
    question = _scalar(_cell(values, cols, "question"))
    answer = _scalar(_cell(values, cols, "answer"))
    for name, value in (("question", question), ("answer", answer)):
        if not value:
            state = "is empty" if value == "" else "is not plain text"
            warn.skip(f"{where}: skipped because its {name} {state}.")
            return None
    assert question and answer
    # Alternatives: one cell split on "|" or new lines, plus alternative_1..N columns.
    alternatives = _split(_cell(values, cols, "alternatives"), "|\n")
    for index in cols.alt:
        if index < len(values):
            alternatives += _split(values[index], "")
    alternatives = _dedupe(alternatives, exclude=question)
    if len(alternatives) > MAX_ALTERNATIVES:
        warn.add(
            f"{where}: kept the first {MAX_ALTERNATIVES} of {len(alternatives)} alternative "
            f"questions ({MAX_ALTERNATIVES} is the maximum)."
        )
        alternatives = alternatives[:MAX_ALTERNATIVES]
    return FaqEntry(
        question=question,
        answer=answer,
        alternatives=alternatives,
        category=_scalar(_cell(values, cols, "category")) or None,
        tags=_dedupe(_split(_cell(values, cols, "tags"), "|,")),
        url=_scalar(_cell(values, cols, "url")) or None,
        external_id=_scalar(_cell(values, cols, "id")) or None,
    )


def missing_columns(found: Iterable[str], what: str = "columns") -> IngestError:
    names = ", ".join(f"'{n}'" for n in list(dict.fromkeys(found))[:30]) or "none"
    return IngestError(
        f"The file needs a question column and an answer column, but its {what} are: {names}. "
        f"Name them 'question' and 'answer' (also accepted: "
        f"{', '.join(FIELD_ALIASES['question'][1:])} for the question; "
        f"{', '.join(FIELD_ALIASES['answer'][1:])} for the answer).",
        code="missing_columns",
    )


def too_many_rows(limits: IngestLimits) -> IngestError:
    return IngestError(
        f"The file has more than {limits.max_rows:,} rows, which is the most one upload accepts. "
        "Split it into smaller files and upload them one by one.",
        code="too_many_rows",
    )


class ObjectRows:
    """Turns JSON objects into rows, resolving (and caching) column positions per key set."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], Columns] = {}
        self.keys_seen: dict[str, None] = {}
        self.had_question = False
        self.had_answer = False

    def entry(self, item: object, where: str, warn: Warnings) -> FaqEntry | None:
        if not isinstance(item, dict):
            warn.skip(f"{where}: skipped because it is not an object with question/answer.")
            return None
        keys = tuple(str(k) for k in item)
        cols = self._cache.get(keys)
        if cols is None:
            cols = self._cache.setdefault(keys, Columns.resolve(keys))
            if len(self.keys_seen) < 100:
                self.keys_seen.update(dict.fromkeys(keys))
        self.had_question |= "question" in cols.fields
        self.had_answer |= "answer" in cols.fields
        return row_entry(list(item.values()), cols, where, warn)

    def check_columns(self, entries: list[FaqEntry]) -> None:
        if not entries and not (self.had_question and self.had_answer):
            raise missing_columns(self.keys_seen, what="keys")
