"""`deskpilot intent` import/export/list from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_import_list_export(env: Path) -> None:
    src = env / "ex.csv"
    src.write_text("text,intent\nwhere is my parcel,delivery\nhello,greeting\nhello,delivery\n")
    result = runner.invoke(app, ["intent", "import", str(src), "-p", "shop"])
    assert result.exit_code == 0 and "skipped rows of unknown intents" in result.output
    result = runner.invoke(app, ["intent", "import", str(src), "-p", "shop", "--create-missing"])
    assert result.exit_code == 0, result.output
    assert "added 1" in result.output and "conflicting labels 1" in result.output
    listing = runner.invoke(app, ["intent", "list", "-p", "shop"]).output
    assert "delivery" in listing and "human_agent" in listing
    out = env / "out.csv"
    assert runner.invoke(app, ["intent", "export", "-p", "shop", "--out", str(out)]).exit_code == 0
    assert out.read_text().splitlines() == [
        "text,intent",
        "hello,greeting",
        "where is my parcel,delivery",
    ]
    bad = runner.invoke(app, ["intent", "import", str(env / "none.csv"), "-p", "shop"])
    assert bad.exit_code == 1 and "no such file" in bad.output
    wrong = env / "w.pdf"
    wrong.write_text("x")
    bad = runner.invoke(app, ["intent", "import", str(wrong), "-p", "shop"])
    assert bad.exit_code == 1 and "JSONL" in bad.output


def test_train_predict_eval_from_files(env: Path) -> None:
    rows = ["text,intent"]
    for i in range(8):
        rows += [
            f"parcel {i} never arrived,delivery",
            f"send item {i} back for a refund,returns",
            f"hello number {i},greeting",
        ]
    data = env / "train.csv"
    data.write_text("\n".join(rows) + "\n")
    out = env / "model"
    result = runner.invoke(
        app, ["intent", "train", "--data", str(data), "--out", str(out), "--epochs", "6"]
    )
    assert result.exit_code == 0, result.output
    # a frozen-head model (tiny data): its encoder is the model cache's, not copied here
    assert (out / "head.safetensors").exists() and not (out / "model.safetensors").exists()
    result = runner.invoke(
        app, ["intent", "predict", "--model", str(out), "my parcel never arrived"]
    )
    assert result.exit_code == 0 and result.output.startswith("delivery")
    result = runner.invoke(
        app,
        ["intent", "eval", "--model", str(out), "--data", str(data), "--report", str(env / "r")],
    )
    assert result.exit_code == 0 and "accuracy" in result.output and "macro-F1" in result.output
    assert "weakest intents" in result.output
    assert (env / "r" / "report.json").exists() and (env / "r" / "reliability.png").exists()
    torch_eval = runner.invoke(
        app, ["intent", "eval", "--model", str(out), "--data", str(data), "--backend", "torch"]
    )
    assert torch_eval.exit_code == 0 and "(torch)" in torch_eval.output
    plain = env / "plain"
    result = runner.invoke(
        app,
        ["intent", "train", "--data", str(data), "--out", str(plain), "--strategy", "frozen_head"],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["intent", "export-onnx", "--model", str(plain), "--data", str(data)]
    )
    assert result.exit_code == 0 and "agreement" in result.output, result.output
    bad_strategy = runner.invoke(
        app, ["intent", "train", "--data", str(data), "--out", str(env / "m3"), "--strategy", "x"]
    )
    assert bad_strategy.exit_code == 1 and "strategy" in bad_strategy.output
    again = runner.invoke(app, ["intent", "train", "--data", str(data), "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    one = env / "one.csv"
    one.write_text("text,intent\na,x\nb,x\n")
    bad = runner.invoke(app, ["intent", "train", "--data", str(one), "--out", str(env / "m2")])
    assert bad.exit_code == 1 and "intent" in bad.output.lower()
    assert not (env / "m2").exists()
    missing = runner.invoke(app, ["intent", "predict", "--model", str(env), "x"])
    assert missing.exit_code == 1 and "not an intent model" in missing.output


def test_train_refuses_an_unknown_second_opinion(env: Path) -> None:
    data = env / "train.csv"
    data.write_text(
        "text,intent\n" + "".join(f"hi {i},greeting\nbye {i},goodbye\n" for i in range(4))
    )
    out = env / "model"
    result = runner.invoke(
        app,
        ["intent", "train", "--data", str(data), "--out", str(out), "--second-opinion", "nope"],
    )
    assert result.exit_code == 1 and "nope" in result.output
    assert not out.exists() and not list(env.glob(".stage-*"))
