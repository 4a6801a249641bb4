"""Hands the figures table over under pytest-xdist when the controller does not print it (see rel_report.py).

Collected last of the suite: waits until every other test of the suite (in any worker) has finished, then emits the
table as a `ReliabilityFigures` warning, which xdist forwards to the controller's warnings summary.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest
import rel_figures

HERE = Path(__file__).resolve().parent


class ReliabilityFigures(UserWarning):
    """Not a problem: the reliability suite's figures, carried to the end of a pytest-xdist run."""


def test_figures_table(request: pytest.FixtureRequest) -> None:
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is None or workerinput.get("rel_report"):
        return  # this process (or the xdist controller) prints the table in the terminal summary
    others = [
        item.nodeid
        for item in request.session.items
        if Path(str(item.path)).resolve().parent == HERE and item.nodeid != request.node.nodeid
    ]
    deadline = time.monotonic() + 3600
    while not rel_figures.done(others) and time.monotonic() < deadline:
        time.sleep(1)
    table = rel_figures.render_text(rel_figures.load(run=rel_figures.run_id()))
    warnings.warn(ReliabilityFigures("\n" + table), stacklevel=1)
