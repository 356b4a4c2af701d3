#!/usr/bin/env python3
"""Checks that a clawlink-bench JSON file is well formed (make test-bench).

Shape only: machine info, and for every scenario at least one measurement
with a numeric value, a unit and a result. No number is judged.
"""
import json
import math
import sys

SCENARIOS = {"throughput", "latency", "footprint", "forward", "storm", "idle"}


def main(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    problems = []
    machine = doc.get("machine", {})
    for key in ("cpu_model", "cores", "kernel"):
        if key not in machine:
            problems.append(f"machine.{key} missing")
    for key in ("date", "git_commit", "mode"):
        if not isinstance(doc.get(key), str):
            problems.append(f"{key} missing")
    seen = set()
    for i, m in enumerate(doc.get("measurements", [])):
        where = f"measurements[{i}] ({m.get('name', '?')})"
        if not isinstance(m.get("value"), (int, float)) or not math.isfinite(m["value"]):
            problems.append(f"{where}: value is not a finite number")
        for key in ("scenario", "name", "unit", "target"):
            if not isinstance(m.get(key), str):
                problems.append(f"{where}: {key} missing")
        if m.get("result") not in ("pass", "fail", "info"):
            problems.append(f"{where}: result is {m.get('result')!r}")
        seen.add(m.get("scenario"))
    for s in sorted(SCENARIOS - seen):
        problems.append(f"no measurement from scenario {s!r}")
    if problems:
        print(f"{path}: not a complete bench result:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        for n in doc.get("notes", []):
            print(f"  note: {n}", file=sys.stderr)
        return 1
    print(f"test-bench: {path} is well formed ({len(doc['measurements'])} measurements)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
