"""Index items: what gets embedded (several views) and what BM25 sees, for FAQs and passages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ml.interfaces import Chunk


@dataclass(frozen=True)
class IndexItem:
    """A chunk plus the texts that represent it to the dense (views) and lexical indexes."""

    chunk: Chunk
    dense_views: tuple[str, ...]
    lexical_text: str


def humanize_category(category: str | None) -> str:
    """``card_payment_fee_charged`` -> ``card payment fee charged`` (a retrievable phrase)."""
    if not category:
        return ""
    return " ".join(category.replace("_", " ").replace("-", " ").replace("?", " ").split()).lower()


def faq_item(
    *,
    chunk_id: str,
    question: str,
    answer: str,
    alternatives: Sequence[str] = (),
    category: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> IndexItem:
    """An FAQ entry kept whole: each phrasing is a view, plus question+answer and the category."""
    topic = humanize_category(category)
    views = [question, *alternatives, f"{question} {answer}"]
    if topic:
        views.append(topic)
    meta = {"kind": "faq", "category": category, "question": question, "answer": answer}
    meta.update(metadata or {})
    chunk = Chunk(id=chunk_id, text=f"{question}\n{answer}", title=question, metadata=meta)
    lexical = " ".join([topic, question, *alternatives])
    return IndexItem(
        chunk=chunk, dense_views=tuple(v for v in views if v.strip()), lexical_text=lexical
    )


def passage_item(
    *,
    chunk_id: str,
    text: str,
    heading_path: Sequence[str] = (),
    category: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> IndexItem:
    """A passage of a longer document; its headings travel with it as context."""
    title = " > ".join(h for h in heading_path if h)
    contextual = f"{title}\n{text}" if title else text
    meta = {"kind": "passage", "category": category, "heading_path": list(heading_path)}
    meta.update(metadata or {})
    chunk = Chunk(id=chunk_id, text=text, title=title, metadata=meta)
    return IndexItem(chunk=chunk, dense_views=(contextual,), lexical_text=contextual)
