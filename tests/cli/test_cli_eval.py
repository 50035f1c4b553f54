"""``bastion eval detect`` through the real click entry point and the real fast tier."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bastion.cli.main import cli

EMAIL_TEXT = "Please write to jane.roe@example.org about the invoice."
EMAIL_START, EMAIL_END = 16, 36
ROWS = [
    {
        "text": EMAIL_TEXT,
        "label": "pii",
        "spans": [[EMAIL_START, EMAIL_END, "EMAIL_ADDRESS"]],
        "source": "test",
    },
    {"text": "The weather is mild today.", "label": "no_pii", "spans": [], "source": "test"},
    {"text": "Our team meets on Mondays.", "label": "no_pii", "spans": [], "source": "test"},
]


def _write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["eval", "detect", *args])


@pytest.fixture
def pii_file(tmp_path: Path) -> Path:
    assert EMAIL_TEXT[EMAIL_START:EMAIL_END] == "jane.roe@example.org"
    return _write(tmp_path / "pii.jsonl", ROWS)


def test_json_report_scores_the_email(pii_file: Path) -> None:
    result = _run("--data", str(pii_file), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["task"] == "pii" and report["level"] == "span"
    assert report["examples"] == 3 and report["tiers"] == ["fast", "tagger"]
    assert report["source"] == "user"
    email = next(row for row in report["classes"] if row["name"] == "pii.email")
    assert (email["support"], email["tp"], email["fn"]) == (1, 1, 0)
    assert email["recall"] == 1.0


def test_table_lists_every_class_and_the_micro_row(pii_file: Path) -> None:
    result = _run("--data", str(pii_file))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("pii.jsonl: task pii, span level, 3 examples, tiers fast+tagger")
    assert lines[1].split() == ["CLASS", "SUPPORT", "TP", "FP", "FN", "PRECISION", "RECALL", "F1"]
    email = next(line.split() for line in lines if line.startswith("pii.email"))
    assert email[1:3] == ["1", "1"] and email[-2] == "1.000"
    assert lines[-1].startswith("micro")


def test_limit_and_task_override(pii_file: Path) -> None:
    result = _run("--data", str(pii_file), "--limit", "1", "--task", "secrets", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["examples"] == 1 and report["level"] == "document"
    # the one example is labelled "pii", so for the secrets task it is a negative
    assert report["micro"]["support"] == 0
    assert report["micro"]["tp"] + report["micro"]["fn"] == 0


def test_document_task_table(tmp_path: Path) -> None:
    rows = [
        {"text": "Summarise this paragraph for me.", "label": "benign", "spans": []},
        {"text": "Translate 'good morning' into French.", "label": "benign", "spans": []},
        {"text": "def add(a, b):\n    return a + b\n", "label": "code", "spans": []},
    ]
    result = _run("--data", str(_write(tmp_path / "code.jsonl", rows)))
    assert result.exit_code == 0, result.output
    assert "task code, document level, 3 examples" in result.output
    assert "1 positive and 2 negative documents" in result.output
    assert "FP RATE" in result.output


def test_indirect_files_scan_as_retrieved(tmp_path: Path) -> None:
    rows = [{"text": "Quarterly revenue rose 4 %.", "label": "benign", "spans": []}]
    path = _write(tmp_path / "injection-indirect.jsonl", rows)
    result = _run("--data", str(path), "--task", "injection", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["source"] == "retrieved"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read", id="missing-file"),
        pytest.param('{"text": "a", "label": "pii"}\n{oops\n', ":2: not valid JSON", id="bad-line"),
        pytest.param(
            '{"text": "abc", "label": "pii", "spans": [[1, 9, "PERSON"]]}\n',
            ":1: bad span",
            id="span-out-of-range",
        ),
        pytest.param('{"text": "a", "label": "benign"}\n', "pass --task", id="task-unknown"),
        pytest.param("", "pass --task", id="empty-file"),
    ],
)
def test_bad_data_exits_1_with_a_clear_message(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "data.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = _run("--data", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message in result.stderr


def test_empty_file_with_a_task_reports_nothing_measured(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    result = _run("--data", str(path), "--task", "pii", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["examples"] == 0 and report["micro"]["f1"] is None


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-data"),
        pytest.param(["--task", "weather"], id="unknown-task"),
        pytest.param(["--limit", "0"], id="limit-zero"),
    ],
)
def test_usage_errors_exit_2(pii_file: Path, args: list[str]) -> None:
    data = ["--data", str(pii_file)] if args else []
    assert _run(*data, *args).exit_code == 2


def test_eval_is_listed_in_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "eval" in result.output


def test_config_is_read_and_a_bad_one_exits_1(pii_file: Path, tmp_path: Path) -> None:
    config = tmp_path / "bastion.yaml"
    config.write_text("detectors:\n  thresholds:\n    pii.email: 2\n", encoding="utf-8")
    result = _run("--data", str(pii_file), "--config", str(config))
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr


def test_config_thresholds_apply(tmp_path: Path) -> None:
    text = "The desk number is +1 415 555 0132 from Monday."
    start = text.index("+1")
    rows = [{"text": text, "label": "pii", "spans": [[start, start + 15, "PHONE_NUMBER"]]}]
    data = _write(tmp_path / "phones.jsonl", rows)
    config = tmp_path / "bastion.yaml"
    config.write_text("detectors:\n  thresholds:\n    pii.phone: 1.0\n", encoding="utf-8")

    def phone_tp(*extra: str) -> int:
        result = _run("--data", str(data), "--json", *extra)
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)["classes"]
        return int(next(row["tp"] for row in rows if row["name"] == "pii.phone"))

    assert phone_tp() == 1
    assert phone_tp("--config", str(config)) == 0
