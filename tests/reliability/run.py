"""Run the reliability suite (issue 8) and print its figures.

    .venv/bin/python tests/reliability/run.py                 # CI size (100 load events), as `pytest -n 2` runs it
    .venv/bin/python tests/reliability/run.py --size full     # 1,000 load events, 200 fault tasks, 3,000 examples
    .venv/bin/python tests/reliability/run.py --size full --with-checkov --markdown

Options: -n N runs the suite on N pytest-xdist workers (each its own embedded AWS); --with-checkov installs checkov
into an isolated venv (results/checkov-venv; it conflicts with the project's boto3 pin) and runs it on the template;
--markdown also prints the table as Markdown (what the README's Reliability section holds). Any other argument goes to
pytest (e.g. -k load). The exit code is pytest's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import rel_figures  # noqa: E402

CHECKOV = "checkov==3.3.30"


def checkov_binary() -> str:
    venv = ROOT / "results" / "checkov-venv"
    binary = venv / "bin" / "checkov"
    if not binary.is_file():
        print(f"installing {CHECKOV} into {venv.relative_to(ROOT)} (isolated: it pins boto3 1.35) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", CHECKOV], check=True)
    return str(binary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=("ci", "full"), default="ci")
    parser.add_argument("-n", "--workers", type=int, default=0, help="pytest-xdist workers (default: one process)")
    parser.add_argument("--with-checkov", action="store_true", help="also run checkov from an isolated venv")
    parser.add_argument("--markdown", action="store_true", help="also print the figures as a Markdown table")
    args, pytest_args = parser.parse_known_args()

    figures = ROOT / "results" / "reliability" / f"run-{args.size}"
    shutil.rmtree(figures, ignore_errors=True)
    figures.mkdir(parents=True)
    env = {
        **os.environ,
        "RELIABILITY_SIZE": args.size,
        "RELIABILITY_FIGURES_DIR": str(figures),
        "TZ": "UTC",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    if args.with_checkov:
        env["CHECKOV_BIN"] = checkov_binary()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE.relative_to(ROOT))]
    if args.workers:
        command += ["-n", str(args.workers)]
    command += pytest_args
    print("$", " ".join(command), f"(RELIABILITY_SIZE={args.size})", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    elapsed = time.perf_counter() - started

    sections = rel_figures.load(directory=figures)
    print()
    print(rel_figures.render_text(sections), end="")
    print(f"\nsuite: {args.size} size, pytest exit {code}, {elapsed:.0f} s")
    if args.markdown:
        markdown = rel_figures.render_markdown(sections)
        (figures / "figures.md").write_text(markdown)
        print("\n" + markdown, end="")
    return code


if __name__ == "__main__":
    sys.exit(main())
