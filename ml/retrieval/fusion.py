"""Fusion of dense and lexical results: reciprocal-rank fusion of ranked lists, or by score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]],
    *,
    k: float = 60.0,
    weights: Mapping[str, float] | None = None,
) -> list[tuple[int, float]]:
    """Fuse ranked lists of item ids (best first) into one: score = sum of w / (k + rank).

    ``k`` damps the advantage of the very top ranks; ``weights`` trust one method more than another.
    Items missing from a list get nothing from it. Ties keep the order of first appearance.
    """
    if k <= 0:
        raise ValueError("k must be positive")
    scores: dict[int, float] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else float(weights.get(name, 1.0))
        if weight == 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def relative_score_fusion(
    dense: Mapping[int, float],
    lexical: Mapping[int, float],
    *,
    dense_weight: float = 1.0,
    lexical_weight: float = 0.1,
) -> list[tuple[int, float]]:
    """Fuse by score: ``dense_weight * cosine + lexical_weight * bm25 / best bm25``.

    Unlike rank fusion this keeps how far apart the candidates are: a near-tie in cosine can be
    settled by the words, while a clear dense winner stays first. BM25 is scaled by the query's
    best BM25 score (so it lies in 0-1 whatever the query length); items missing from ``dense``
    score 0 there, items missing from ``lexical`` get no lexical bonus. Ties keep the order of
    first appearance (dense first).
    """
    if dense_weight < 0 or lexical_weight < 0:
        raise ValueError("weights must not be negative")
    best = max((s for s in lexical.values() if s > 0), default=0.0)
    scores: dict[int, float] = {item: dense_weight * s for item, s in dense.items()}
    for item, s in lexical.items():
        bonus = lexical_weight * s / best if best > 0 and s > 0 else 0.0
        scores[item] = scores.get(item, 0.0) + bonus
    return sorted(scores.items(), key=lambda kv: -kv[1])
