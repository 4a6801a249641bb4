"""The suite's figures: each section's tests record theirs as JSON (one file per section and process, so
pytest-xdist workers can each write theirs), and the runner or the end of the pytest run prints them as one table.

Files go to RELIABILITY_FIGURES_DIR (default results/reliability/, git-ignored), tagged with the run: xdist's
PYTEST_XDIST_TESTRUNUID (shared by the workers of one run), else the process id.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ORDER = ("load", "faults", "dlq", "conflict", "fuzz", "blast", "security")
TITLES = {
    "load": "Load and duplicates",
    "faults": "Faults: throttling, 5xx, crashes, unassumable account",
    "dlq": "Dead-letter queue and redrive",
    "conflict": "Conditional-write conflicts",
    "fuzz": "Bad input (hypothesis)",
    "blast": "Blast radius (unmanaged resources)",
    "security": "Security checks of the deployment",
}


def figures_dir() -> Path:
    return Path(os.environ.get("RELIABILITY_FIGURES_DIR") or ROOT / "results" / "reliability")


def run_id() -> str:
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"


def record(section: str, figures: dict[str, Any]) -> None:
    """Add rows to a section (this process's file of it)."""
    path = figures_dir() / f"{section}.{run_id()}.{os.getpid()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("*.json"):  # files of runs more than a day old
        if old.stat().st_mtime < time.time() - 86_400:
            old.unlink(missing_ok=True)
    current: dict[str, Any] = {}
    if path.is_file():
        current = json.loads(path.read_text())["figures"]
    current.update(figures)
    size = os.environ.get("RELIABILITY_SIZE", "ci")
    payload = {"section": section, "size": size, "run": run_id(), "written": time.time(), "figures": current}
    path.write_text(json.dumps(payload, indent=1, default=str))


def load(run: str | None = None, directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """The sections of one run (default: every file in the directory), by name; a section's files merged."""
    directory = directory or figures_dir()
    found: dict[str, dict[str, Any]] = {}
    if not directory.is_dir():
        return found
    files = []
    for path in directory.glob("*.json"):
        try:
            files.append(json.loads(path.read_text()))
        except ValueError:
            continue
    for data in sorted(files, key=lambda d: float(d.get("written", 0))):
        if run is not None and data.get("run") != run:
            continue
        name = str(data["section"])
        section = found.setdefault(name, {"section": name, "size": data.get("size"), "figures": {}})
        section["figures"].update(data["figures"])
    return found


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) or "-"
    return str(value)


def rows(sections: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    ordered = [s for s in ORDER if s in sections] + sorted(s for s in sections if s not in ORDER)
    out: list[tuple[str, str, str]] = []
    for section in ordered:
        for label, value in sections[section]["figures"].items():
            out.append((TITLES.get(section, section), label, _value(value)))
    return out


def render_text(sections: dict[str, dict[str, Any]]) -> str:
    table = rows(sections)
    if not table:
        return "no reliability figures recorded\n"
    sizes = sorted({str(s.get("size")) for s in sections.values()})
    w1 = max(len(r[0]) for r in table)
    w2 = max(len(r[1]) for r in table)
    lines = [f"Reliability figures (size: {', '.join(sizes)})", ""]
    previous = ""
    for section, label, value in table:
        head = section if section != previous else ""
        if head and previous:
            lines.append("")
        previous = section
        lines.append(f"{head:<{w1}}  {label:<{w2}}  {value}")
    return "\n".join(lines) + "\n"


def render_markdown(sections: dict[str, dict[str, Any]]) -> str:
    lines = ["| section | figure | value |", "|---|---|---|"]
    previous = ""
    for section, label, value in rows(sections):
        lines.append(f"| {section if section != previous else ''} | {label} | {value.replace('|', '/')} |")
        previous = section
    return "\n".join(lines) + "\n"
