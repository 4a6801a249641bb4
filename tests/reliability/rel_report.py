"""pytest plugin: prints the reliability figures at the end of a run.

tests/reliability/conftest.py registers it in every process that collects the suite, so `pytest tests/reliability`
and `python tests/reliability/run.py` print the table. Under pytest-xdist only the controller prints, and it does not
collect: in a plain `pytest -n 2` run the table is printed only if the controller loads this plugin too
(`-p tests.reliability.rel_report`, or `pytest_plugins = ["tests.reliability.rel_report"]` in tests/conftest.py);
the figures are in results/reliability/ either way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rel_figures

_RUN: dict[str, str] = {}


def pytest_configure(config: Any) -> None:
    _RUN.setdefault("id", rel_figures.run_id())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: the workers learn that the controller prints (and the run's id)."""
    node.workerinput["rel_report"] = True
    _RUN["id"] = node.workerinput["testrunuid"]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: its output is not shown; the controller prints
    sections = rel_figures.load(run=_RUN.get("id"))
    if not sections:
        return
    terminalreporter.write_sep("=", "reliability figures")
    terminalreporter.write(rel_figures.render_text(sections))
