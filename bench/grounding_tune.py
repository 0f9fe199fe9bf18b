"""The grounding bench's rubric adapter and its ``tune`` phase summary: which sampling
penalties make the generator's raw answers most often right, least often looping, shortest."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from bench.grounding_data import OOS_LABEL, percentile, share
from ml.generation.repetition import RepetitionDetector


def load_judge() -> Callable[[str, str], Any] | None:
    """H4a's rubric as ``(text, true intent) -> Judgement``; an ``oos`` query has no right
    answer (anything sent is wrong). None when the rubric module is not there."""
    try:
        from bench.grounding_rubric import judge_answer, load_rubric

        rubric = load_rubric()
    except Exception as exc:  # not written yet, or its data does not load
        print(f"  (no rubric: {type(exc).__name__}: {exc})")
        return None
    cache: dict[tuple[str, str], Any] = {}

    def judge(text: str, intent: str) -> Any:
        if intent == OOS_LABEL:
            return SimpleNamespace(correct=False, reason="out of scope")
        key = (text, intent)
        if key not in cache:
            cache[key] = judge_answer(text, intent, rubric)
        return cache[key]

    return judge


def penalty_trial(
    trial: dict[str, list[dict[str, Any]]], settings: list[tuple[float, float | None]]
) -> dict[str, Any]:
    """Per penalty setting: rubric correctness, loops, cut at max_tokens, length; the best by
    correctness, then fewer loops, then shorter."""
    judge = load_judge()
    rows: list[dict[str, Any]] = []
    for (fp, rp), (name, recs) in zip(settings, trial.items(), strict=True):
        gen = [r for r in recs if r["route"] == "llm" and "raw_text" in r]
        loops = 0
        for r in gen:
            det = RepetitionDetector()
            loops += bool(det.feed(r["raw_text"]) or det.flush())
        correct = (
            None if judge is None else sum(judge(r["raw_text"], r["intent"]).correct for r in gen)
        )
        toks = [float(r.get("completion_tokens") or 0) for r in gen]
        rows.append(
            {
                "setting": name,
                "frequency_penalty": fp,
                "repetition_penalty": rp,
                "n": len(gen),
                "correct_share": None if correct is None else share(correct, len(gen)),
                "loop_share": share(loops, len(gen)),
                "cut_at_max_tokens_share": share(
                    sum(r.get("finish_reason") == "length" for r in gen), len(gen)
                ),
                "completion_tokens_p50": percentile(toks, 50),
            }
        )
    best = min(
        rows,
        key=lambda r: (
            -(r["correct_share"] or 0),
            r["loop_share"] or 0,
            r["completion_tokens_p50"] or 0,
        ),
    )
    return {
        "rows": rows,
        "chosen": {k: best[k] for k in ("frequency_penalty", "repetition_penalty")},
        "criterion": "highest rubric correctness of the raw answer, then fewer loops, then shorter"
        + ("" if judge else " (no rubric yet: loops and length only)"),
    }


def print_trial(t: dict[str, Any]) -> dict[str, Any]:
    """Print the penalty trial; returns it."""
    print("\npenalty trial (dev):")
    for r in t["rows"]:
        print("  " + ", ".join(f"{k} {v}" for k, v in r.items()))
    print(f"  chosen: {t['chosen']} ({t['criterion']})")
    return t
