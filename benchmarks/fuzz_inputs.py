"""The long fuzzing run: many random corruptions of real FASTA, VCF, GFF3 and GenBank files, each fed
to a reader (in process) and to a command (in its own process, so that a segmentation fault or a
hang would be seen, not take the run down). Prints and saves the tally of outcomes per target:
``ok`` (a result), ``error`` (one clear error line, exit 1), and the failures ``internal`` (an
unexpected exception), ``crash`` (killed by a signal), ``hang`` (past the timeout), ``traceback``.

    python benchmarks/fuzz_inputs.py --examples 200 --json benchmarks/results_fuzz.json

The test suite runs the same corruptions with a small, fixed number of examples
(tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "tests"))
from fuzzing import edits, write_corrupted  # noqa: E402
from test_fuzz import COMMANDS, READERS, _command  # noqa: E402

from dnahnet_core.errors import DnaHNetError  # noqa: E402

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DNAHNET_DEVICE": "cpu"}


def classify_command(proc: subprocess.CompletedProcess) -> str:
    if proc.returncode < 0:
        return "crash"
    if "Traceback" in proc.stderr:
        return "traceback"
    if proc.returncode == 0:
        return "ok"
    lines = [x for x in proc.stderr.splitlines() if x.startswith("dnahnet: error:")]
    if proc.returncode == 1 and len(lines) == 1 and "DNAHNET_DEBUG" not in lines[0]:
        return "error"
    return "internal"


def run(examples: int, timeout: float, seed: int) -> dict:
    tally: dict[str, Counter] = {}
    failures: list[dict] = []
    common = settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                      derandomize=False)

    for kind, (consume, src) in READERS.items():
        counts = tally.setdefault(f"reader:{kind}", Counter())

        @common
        @given(plan=edits(), compress=st.sampled_from(["", "", "gzip", "gzip_cut"]))
        def reader_case(plan, compress):
            with tempfile.TemporaryDirectory() as tmp:
                path = write_corrupted(src, Path(tmp), plan, compress)
                try:
                    consume(path)
                    counts["ok"] += 1
                except DnaHNetError:
                    counts["error"] += 1
                except Exception as err:  # noqa: BLE001 - the point is to count them
                    counts["internal"] += 1
                    failures.append({"target": f"reader:{kind}", "plan": repr(plan), "compress": compress, "error": repr(err)})

        reader_case()

    for kind, src in COMMANDS.items():
        counts = tally.setdefault(f"command:{kind}", Counter())

        @settings(common, max_examples=max(1, examples // 10))
        @given(plan=edits(max_edits=3), compress=st.sampled_from(["", "gzip_cut"]))
        def command_case(plan, compress):
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                path = write_corrupted(src, tmp, plan, compress)
                cmd = [sys.executable, "-m", "dnahnet_cli.main", *_command(kind, path, tmp)]
                try:
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO, timeout=timeout)
                    outcome = classify_command(proc)
                except subprocess.TimeoutExpired:
                    outcome, proc = "hang", None
                counts[outcome] += 1
                if outcome not in ("ok", "error"):
                    failures.append({"target": f"command:{kind}", "plan": repr(plan), "compress": compress,
                                     "outcome": outcome, "stderr": proc.stderr[-1000:] if proc else ""})

        command_case()
    return {"tally": {k: dict(v) for k, v in tally.items()}, "failures": failures}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200, help="corruptions per reader (commands get a tenth)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a command counts as hung")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = run(args.examples, args.timeout, args.seed)
    result["seconds"] = time.perf_counter() - t0
    for target, counts in result["tally"].items():
        print(f"{target:28s} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"failures: {len(result['failures'])} ({result['seconds']:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    sys.exit(1 if result["failures"] else 0)


if __name__ == "__main__":
    main()
