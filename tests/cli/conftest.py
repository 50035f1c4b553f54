"""Fixtures shared by the CLI tests: a clean environment and an embedded-store config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("BASTION_CONFIG", raising=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "bastion.yaml"
    path.write_text('storage: {url: "sqlite:///data/bastion.db"}\n', encoding="utf-8")
    return path
