"""The tree stays ruff-clean, formatted and mypy-clean (the same commands a developer runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_and_format() -> None:
    lint = _run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = _run(str(BIN / "ruff"), "format", "--check", "layers", "infrastructure", "functions", "app.py")
    assert fmt.returncode == 0, fmt.stdout[-3000:]


def test_mypy() -> None:
    result = _run(str(BIN / "mypy"), "layers/agent_core/python/aws_agent", "infrastructure", "functions", "app.py")
    assert result.returncode == 0, result.stdout[-3000:]
