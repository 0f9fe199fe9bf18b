"""Models stored once: the size of a demo intent model version, the model store after 6 versions,
the encoder copies on disk, and the API's memory with 3 products each serving a model.

Trains the demo model (fast MiniLM head + mpnet second opinion, as `make run` does) into a fresh
data folder and model cache, then 5 more versions on a slice of the demo examples (cheap: the
store's size grows by what a version holds, which the full version measures), and serves copies
of the demo version for 3 products from `deskpilot serve` on SQLite, reading the API's VmRSS
after each product's model is loaded. ``--before DIR`` names a demo version written by the code
before this change (each version copied its encoders): it is measured and served the same way,
for the "before" figures. Prints a table and writes ``bench/results/model_store.json``.

    .venv/bin/python bench/model_store.py --before /tmp/old-demo-version   # ~15 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
# encoder weights or graphs, whatever their format (head and memory files are a few MB at most)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx")
MIN_ENCODER_BYTES = 15_000_000
TRAINED = ("head.safetensors", "memory.safetensors")  # what a version trained


def disk_bytes(*folders: Path) -> int:
    """Bytes under ``folders``, each file counted once (hard links are one file on disk)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            stat = path.lstat()
            if path.is_file() and (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def encoder_files(*folders: Path) -> list[str]:
    """Files holding a whole encoder's weights (PyTorch or ONNX) under ``folders``, one per
    inode."""
    seen: set[tuple[int, int]] = set()
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.exists() else ():
            stat = path.lstat()
            key = (stat.st_dev, stat.st_ino)
            big = path.suffix in WEIGHT_SUFFIXES and stat.st_size > MIN_ENCODER_BYTES
            big = big and path.name not in TRAINED  # a big memory is data, not an encoder
            if big and path.is_file() and key not in seen:
                seen.add(key)
                found.append(str(path))
    return found


def demo_examples() -> tuple[list[str], list[str]]:
    """The demo product's examples, as `make run` trains on them."""
    from backend.intents.demo import DEMO_EXAMPLES, faq_question_rows
    from backend.intents.importer import read_rows
    from ml.intent.data import clean_examples

    rows = chain(read_rows(DEMO_EXAMPLES, "csv"), faq_question_rows())
    texts, labels, _ = clean_examples((text, label) for _, text, label in rows)
    return texts, labels


def train(texts: list[str], labels: list[str], out: Path) -> float:
    """Train a version as the demo job does (frozen head + second opinion); seconds taken."""
    from backend.core.settings import Settings
    from backend.intents.training import train_model_folder
    from ml.intent.train import TrainConfig

    settings = Settings()
    start = time.monotonic()
    train_model_folder(
        texts,
        labels,
        out,
        settings=settings,
        config=TrainConfig(base_model=settings.intent_base_model, strategy="frozen_head"),
        second_opinion="all-mpnet-base-v2",
    )
    return time.monotonic() - start


def vm_rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def api_rss(version: Path, work: Path, label: str) -> list[float]:
    """VmRSS of `deskpilot serve` with no model, then after each of 3 products' models (copies
    of ``version``, hard-linked) is loaded."""
    import httpx
    from sqlmodel import Session

    from backend.core import migrate
    from backend.core.db import make_engine
    from backend.core.settings import load_settings
    from backend.intents.models import IntentModel
    from backend.intents.versions import activate_version, models_root
    from backend.products.models import Product

    data = work / f"api-{label}"
    url = f"sqlite:///{data / 'api.db'}"
    data.mkdir(parents=True)
    env = {
        **os.environ,
        "DESKPILOT_DATA_DIR": str(data),
        "DESKPILOT_DATABASE_URL": url,
        "DESKPILOT_LLM_BASE_URL": "",
        "DESKPILOT_INTENT_DEMO_TRAINING": "false",
        "DESKPILOT_INDEX_POLL_S": "0.5",
        "DESKPILOT_LOG_LEVEL": "WARNING",
    }
    migrate.upgrade(url)
    engine = make_engine(url)
    settings = load_settings(database_url=url, data_dir=data)
    ids = []
    with Session(engine) as session:
        for n in range(3):
            product = Product(slug=f"p{n}", name=f"P{n}")
            session.add(product)
            session.commit()
            ids.append(product.id or 0)
    port = 18700 + os.getpid() % 1000
    log = (work / f"api-{label}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli.main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def wait(loaded: int) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert proc.poll() is None, (work / f"api-{label}.log").read_text()[-2000:]
            try:
                ready = httpx.get(f"{base}/api/v1/ready", timeout=5).json()
                if sum(bool(e.get("loaded")) for e in ready.get("intent", [])) >= loaded:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the API did not load {loaded} model(s)")

    try:
        wait(0)
        time.sleep(3)  # the lifespan's warm-up (query embedder) settles
        rss = [vm_rss_mb(proc.pid)]
        for product_id in ids:
            folder = models_root(settings, product_id) / version.name
            shutil.copytree(version, folder, copy_function=os.link)
            with Session(engine) as session:
                session.add(
                    IntentModel(product_id=product_id, version=version.name, path=str(folder))
                )
                session.commit()
                activate_version(session=session, product_id=product_id, version=version.name)
            wait(len(rss))
            rss.append(vm_rss_mb(proc.pid))
        return rss
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)
        engine.dispose()


def main() -> None:
    """Run the measurements, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="a demo version written by the old code")
    parser.add_argument("--slice", type=int, default=600, help="examples for versions 2-6")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/model_store.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deskpilot-model-store-"))
    cache = work / "cache"
    os.environ["DESKPILOT_MODEL_CACHE"] = str(cache)  # a fresh store: nothing left from before
    versions = work / "data" / "models" / "intent" / "1"
    texts, labels = demo_examples()
    print(f"training the demo model ({len(texts)} examples) ...", flush=True)
    demo = versions / "v1"
    demo_s = train(texts, labels, demo)
    demo_mb = disk_bytes(demo) / 1e6
    step = max(1, len(texts) // args.slice)
    for n in range(2, 7):
        print(f"training version {n} of 6 (a slice of {len(texts[::step])} examples) ...")
        train(texts[n % step :: step], labels[n % step :: step], versions / f"v{n}")
    store_mb = disk_bytes(versions, cache / "encoders") / 1e6
    files = encoder_files(work / "data", cache)
    by_version = {v.name: round(disk_bytes(v) / 1e6, 2) for v in sorted(versions.iterdir())}
    print("API memory with 3 products ...", flush=True)
    rss = api_rss(demo, work, "after")
    result: dict[str, Any] = {
        "demo_model_version_mb": round(demo_mb, 2),
        "demo_train_s": round(demo_s, 1),
        "model_store_mb_after_6_versions": round(store_mb, 1),
        "version_mb": by_version,
        "encoder_store_mb": round(disk_bytes(cache / "encoders") / 1e6, 1),
        "encoder_copies_on_disk": len(files),
        "encoder_files": [str(Path(f).relative_to(work)) for f in files],
        "api_rss_mb_3_products": round(rss[-1], 1),
        "api_rss_mb_by_products_loaded": [round(r, 1) for r in rss],
    }
    if args.before is not None:
        result["demo_model_version_mb_before"] = round(disk_bytes(args.before) / 1e6, 2)
        result["encoder_copies_per_version_before"] = len(encoder_files(args.before))
        before = api_rss(args.before, work, "before")
        result["api_rss_mb_3_products_before"] = round(before[-1], 1)
        result["api_rss_mb_by_products_loaded_before"] = [round(r, 1) for r in before]
    result.update(
        {
            "note": "versions 2-6 trained on a slice of the demo examples; sizes count each "
            "file once (hard links); encoder files: PyTorch weights or ONNX graphs of a whole "
            "encoder under the data folder and model cache (the base models' pip packages "
            "not counted); RSS read from /proc/PID/status after /ready lists each product's "
            "model as loaded",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    for key, value in result.items():
        if not isinstance(value, (list, dict)):
            print(f"{key:<40} {value}")
    for name in result["encoder_files"]:
        print(f"  encoder file: {name}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
