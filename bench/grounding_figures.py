"""The grounding bench's figures, from generate-phase records and their replays.

Definitions (issue 17): over all queries of a sample, ``wrong_sent_share`` = answers sent that
the rubric judges wrong for the query's true intent / all queries; ``answered_share`` = answers
sent (the generator's checked text or the extractive answer; not the fallback, a handoff or small
talk) / all queries; ``generated_sent_share`` = answers sent with the generator's own text / all
queries. "Before" is the generator's raw text, sent whenever the query reached it (the extractive
answer when the generator failed). Upper bounds: two-sided 95 % Wilson score interval.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from backend.answers.models import AssistantSettingsBase
from bench.grounding_data import percentile, share, wilson_upper
from bench.grounding_replay import rejected

ANSWERED = ("generator", "extractive")
Judge = Callable[[str, str], Any]  # (text, true intent) -> Judgement(correct, reason, ...)


def outcome(row: dict[str, Any], out: dict[str, Any] | None, judge: Judge) -> dict[str, Any]:
    """Per query: what was sent before and after the check, and the rubric's verdicts."""
    res: dict[str, Any] = {"id": row["id"], "intent": row["intent"], "route": row["route"]}
    if row["route"] != "llm" or out is None:
        return {**res, "answered_before": False, "answered": False, "sent_by": row["route"]}
    before = out["sent_text"] if row.get("error") else (row.get("raw_text") or "")
    jb = judge(before, row["intent"])
    res.update(answered_before=bool(before.strip()), wrong_before=not jb.correct)
    res.update(why_before=getattr(jb, "reason", ""))
    res.update(sent_by=out["sent_by"], answered=out["sent_by"] in ANSWERED)
    if res["answered"]:
        ja = judge(out["sent_text"], row["intent"])
        res.update(wrong=not ja.correct, why=getattr(ja, "reason", ""))
        top = (row["hits"] or [{}])[0].get("category")
        res["cause"] = None if ja.correct else ("wrong_entry" if top != row["intent"] else "text")
    res["confidence"] = (row.get("prediction") or {}).get("confidence")
    res["confirmed"] = bool(row.get("confirmed"))
    return res


def summary(outs: list[dict[str, Any]]) -> dict[str, Any]:
    """The shares over a sample (all its queries), with their upper bounds."""
    n = len(outs)
    wb = sum(bool(o.get("answered_before") and o.get("wrong_before")) for o in outs)
    wa = sum(bool(o["answered"] and o.get("wrong")) for o in outs)
    ans = sum(o["answered"] for o in outs)
    gen = sum(o["sent_by"] == "generator" for o in outs)
    routed = sum(o["route"] == "llm" for o in outs)
    return {
        "sample_size": n,
        "llm_routed": routed,
        "routes": dict(Counter(o["route"] for o in outs).most_common()),
        "sent_by": dict(Counter(o["sent_by"] for o in outs).most_common()),
        "wrong_sent_share_before": share(wb, n),
        "wrong_sent_share_before_upper95": wilson_upper(wb, n),
        "answered_share_before": share(sum(bool(o.get("answered_before")) for o in outs), n),
        "wrong_sent_share_after": share(wa, n),
        "wrong_sent_share_after_upper95": wilson_upper(wa, n),
        "answered_share_after": share(ans, n),
        "answered_share_after_upper95": wilson_upper(ans, n),
        "generated_sent_share_after": share(gen, n),
        "generated_sent_share_after_upper95": wilson_upper(gen, n),
        "wrong_after_by_cause": dict(
            Counter(o.get("cause") for o in outs if o["answered"] and o.get("wrong"))
        ),
        "wrong_after_by_sender": dict(
            Counter(o["sent_by"] for o in outs if o["answered"] and o.get("wrong"))
        ),
    }


def choose_threshold(
    grid: dict[float, dict[str, Any]], min_answered: float, min_generated: float
) -> tuple[float, str]:
    """The ``max_unsupported_share`` with the lowest wrong-sent share among those answering at
    least ``min_answered`` and sending the generator's text at least ``min_generated``; ties:
    the larger generated share, then the smaller threshold. Without a feasible one: the lowest
    wrong-sent share overall (said in the criterion)."""
    rule = (
        f"lowest wrong_sent_share_after with answered_share_after >= {min_answered} and "
        f"generated_sent_share_after >= {min_generated}; ties: larger generated share"
    )

    def key(t: float) -> tuple[float, float, float]:
        s = grid[t]
        return (s["wrong_sent_share_after"] or 0.0, -(s["generated_sent_share_after"] or 0.0), t)

    ok = [
        t
        for t, s in grid.items()
        if (s["answered_share_after"] or 0) >= min_answered
        and (s["generated_sent_share_after"] or 0) >= min_generated
    ]
    if ok:
        return min(ok, key=key), rule
    return min(grid, key=key), rule + "; NO value meets both floors: lowest wrong share overall"


def confidence_sweep(
    outs: list[dict[str, Any]], config: AssistantSettingsBase, min_answered: float
) -> list[dict[str, Any]]:
    """What raising the bar on the generator path would do: a query the generator answered
    stays answered only when its intent confidence is at least ``m`` (``min_confidence`` and
    ``min_confidence_confirmed`` raised to ``m``; the boost is unchanged for those kept, so
    this is exact), and, in the second half of the rows, only when retrieval confirmed the
    intent (the plain search ranked its FAQ entry first). ``meets``: <= 2 % wrong with enough
    answered."""
    rows, n = [], len(outs)
    base = min(config.min_confidence, config.min_confidence_confirmed)
    grid = [round(base + 0.01 * i, 2) for i in range(round((1 - base) * 100) + 1)]
    for m, confirmed in [(m, c) for c in (False, True) for m in grid]:
        kept = [
            o
            for o in outs
            if o["answered"]
            and (o.get("confidence") or 0.0) >= m
            and (o.get("confirmed") or not confirmed)
        ]
        wrong = sum(bool(o.get("wrong")) for o in kept)
        gen = sum(o["sent_by"] == "generator" for o in kept)
        rows.append(
            {
                "min_confidence_llm": m,
                "confirmed_required": confirmed,
                "answered_share": share(len(kept), n),
                "wrong_sent_share": share(wrong, n),
                "generated_sent_share": share(gen, n),
                "meets": (share(wrong, n) or 0.0) <= 0.02
                and (share(len(kept), n) or 0.0) >= min_answered,
            }
        )
    return rows


def label_quality(
    labels: list[dict[str, Any]], replays: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Recall on answers labelled unsupported, false rejects on those labelled supported: the
    check "rejects" when it would not send the generator's text as is."""
    pairs = [(lab, replays[lab["id"]]) for lab in labels if lab["id"] in replays]
    uns = [out for lab, out in pairs if lab["label"] == "unsupported"]
    sup = [out for lab, out in pairs if lab["label"] == "supported"]
    caught = sum(rejected(o) for o in uns)
    false = sum(rejected(o) for o in sup)
    return {
        "labelled": len(labels),
        "matched": len(pairs),
        "unsupported": len(uns),
        "supported": len(sup),
        "check_recall": share(caught, len(uns)),
        "check_recall_lower95": None
        if not uns
        else round(1 - (wilson_upper(len(uns) - caught, len(uns)) or 0.0), 4),
        "check_false_reject_rate": share(false, len(sup)),
        "check_false_reject_rate_upper95": wilson_upper(false, len(sup)),
    }


def set_figures(name: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Adversarial items: caught = not sent as is; paraphrases: replaced = not the generator's
    text (trimmed = sent with a sentence held)."""
    n = len(results)
    if "advers" in name:
        missed = [r["item_id"] for r in results if not rejected(r)]
        return {"total": n, "caught": n - len(missed), "missed": missed}
    replaced = [r["item_id"] for r in results if r["sent_by"] != "generator"]
    trimmed = [r["item_id"] for r in results if r["sent_by"] == "generator" and rejected(r)]
    return {"total": n, "replaced": len(replaced), "replaced_ids": replaced, "trimmed": trimmed}


def check_cost(replays: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-sentence check time and the per-answer evidence setup (embedding the passages)."""
    ms = [x for r in replays for x in r["check_ms"]]
    setup = [r["setup_ms"] for r in replays if r.get("setup_ms") is not None]
    return {
        "check_ms_p50_per_sentence": percentile(ms, 50),
        "check_ms_p95_per_sentence": percentile(ms, 95),
        "sentences_checked": len(ms),
        "evidence_setup_ms_p50": percentile(setup, 50),
    }


def generation_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Lengths, loops and timings of the raw generations (timings under concurrency)."""
    gen = [r for r in rows if r["route"] == "llm" and "raw_text" in r]
    toks = [float(r["completion_tokens"] or 0) for r in gen if r.get("completion_tokens")]
    rates = [
        r["completion_tokens"] / ((r["total_ms"] - r["ttft_ms"]) / 1000)
        for r in gen
        if r.get("completion_tokens") and r.get("ttft_ms") and r["total_ms"] > r["ttft_ms"]
    ]
    return {
        "generated": len(gen),
        "errors": sum(bool(r.get("error")) for r in gen),
        "finish_length_share": share(
            sum(r.get("finish_reason") == "length" for r in gen), len(gen)
        ),
        "completion_tokens_p50": percentile(toks, 50),
        "completion_tokens_p95": percentile(toks, 95),
        "ttft_ms_p50_concurrent": percentile([r["ttft_ms"] for r in gen if r.get("ttft_ms")], 50),
        "tokens_per_s_per_request_p50_concurrent": percentile(rates, 50),
        "concurrency": gen[0].get("concurrency") if gen else None,
    }


def verdicts(replays: list[dict[str, Any]]) -> dict[str, Any]:
    """Why generated answers were not sent: the verdicts, early stops and claim reasons."""
    reasons = Counter(
        x.split(":")[0] for r in replays for c in r["claims"] for x in c.get("reasons") or []
    )
    return {
        "verdict": dict(Counter(str(r["reason"]) for r in replays).most_common()),
        "stopped": dict(Counter(str(r["stopped"]) for r in replays).most_common()),
        "claim_reasons": dict(reasons.most_common()),
        "claims": sum(len(r["claims"]) for r in replays),
    }
