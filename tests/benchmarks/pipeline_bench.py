"""Benchmark: each handler's cold import time next to a bare `import boto3`, and e2e task latency on the emulator.

Run: .venv/bin/python tests/benchmarks/pipeline_bench.py [--runs 7] [--tasks 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "handler.py").is_file())
_TIMER = "import time,sys;t=time.perf_counter();{stmt};print((time.perf_counter()-t)*1000)"


def import_ms(stmt: str, runs: int) -> float:
    """Median wall time of `stmt` in fresh interpreters (what a Lambda cold start pays for imports)."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _TIMER.format(stmt=stmt)],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_METRICS_DISABLED": "true"},
        )  # fmt: skip
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def handler_imports(runs: int) -> None:
    base = import_ms("import boto3", runs)
    print(f"{'import':<22}{'median ms':>10}{'x boto3':>9}")
    print(f"{'boto3 (bare)':<22}{base:>10.1f}{1.0:>9.2f}")
    for step in STEPS:
        stmt = f"sys.path.insert(0,'functions/{step}');import handler"
        ms = import_ms(stmt, runs)
        print(f"{'functions/' + step:<22}{ms:>10.1f}{ms / base:>9.2f}")


def e2e_latency(tasks: int) -> None:
    from aws_agent.local.agent import LocalAgent

    started = time.perf_counter()
    with LocalAgent() as agent:
        print(f"\nembedded AWS up (synth + deploy) in {time.perf_counter() - started:.1f} s")
        latencies = []
        for n in range(tasks):
            task_id = f"bench-bucket-{n}"
            t0 = time.perf_counter()
            agent.submit(
                {
                    "task_id": task_id,
                    "task": {
                        "task_type": "CreateResource",
                        "resource_type": "S3Bucket",
                        "parameters": {"bucket_name": f"bench-bucket-{n}"},
                    },
                }
            )
            status = agent.run([task_id], timeout=60)[task_id]
            latencies.append((time.perf_counter() - t0) * 1000)
            assert status == "Completed", status
        print(
            f"create-bucket task, event → Completed: median {statistics.median(latencies):.0f} ms, "
            f"min {min(latencies):.0f} ms, max {max(latencies):.0f} ms over {tasks} tasks"
        )
        print(f"Lambda invocations: {sum(agent.emulator.invocations.values())} ({dict(agent.emulator.invocations)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tasks", type=int, default=10)
    args = parser.parse_args()
    handler_imports(args.runs)
    e2e_latency(args.tasks)


if __name__ == "__main__":
    main()
