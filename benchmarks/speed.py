"""Speed benchmark: in-process assessments per second on one core, and CLI cold start.

Run: .venv/bin/python benchmarks/speed.py [--seconds 3]
Writes benchmarks/results/speed.json. Targets: >= 5,000 assessments/s; cold start of
`follicle assess --json` <= 0.4 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cases() -> list[object]:
    import yaml

    from follicle.case import parse_case

    paths = sorted((ROOT / "tests" / "vignettes").glob("*.yaml"))
    paths += sorted((ROOT.parent / "shared" / "cases").glob("*.yaml"))
    return [parse_case(yaml.safe_load(p.read_text())["case"]) for p in paths]


def throughput(seconds: float, full: bool) -> float:
    import follicle

    cases = _cases()
    for c in cases:  # warm up: KB loaded and caches built
        follicle.assess(c)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for c in cases:
            a = follicle.assess(c)
            if full:
                a.to_dict()
        n += len(cases)
    return n / (time.perf_counter() - start)


def cold_start(runs: int) -> list[float]:
    exe = str(Path(sys.executable).with_name("follicle"))
    case = str(ROOT.parent / "shared" / "cases" / "d05-metformin-grey-zone.yaml")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([exe, "assess", "--json", case], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core
    result = {
        "assess_per_second": round(throughput(args.seconds, full=False)),
        "assess_and_to_dict_per_second": round(throughput(args.seconds, full=True)),
    }
    times = cold_start(args.runs)
    result["cli_cold_start_median_s"] = round(statistics.median(times), 3)
    result["cli_cold_start_max_s"] = round(max(times), 3)
    out = ROOT / "benchmarks" / "results" / "speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
