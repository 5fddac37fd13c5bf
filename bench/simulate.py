"""Run the lifecycle simulation over many seeds and print the ones that break an invariant.

    python bench/simulate.py --seeds 1000 [--start 0] [--workers 2] [--verbose] [--log] [--known]
                             [--journal FILE]

Each seed runs in a worker process (tests/simulation/runner.run_seed: one world, its
invariants checked). A failing seed is printed with its broken invariants (and a hint of
the issue-9 defect each looks like); ``--log`` adds the run's log of faults and
invocations; ``--known`` prints the failing seeds as entries for regression_seeds.py (to
re-baseline after a change). Replay one seed with ``--seeds 1 --start SEED --log``.

A long run (10,000 seeds is hours on two cores) can be stopped and taken up again:
``--journal FILE`` appends each seed's outcome to FILE as one JSON line as soon as it is
known, and a run given the same journal skips the seeds already in it and counts them in
its totals. Each line carries the fingerprint of the code it ran (batchrelay, the
simulator and the harness: ``code_fingerprint``); a line of other code is run again, so a
total never mixes versions. The run log is kept for failing seeds only. The last line is
always

    seeds=N failures=F paid_twice=P cross_tenant_lines=C stranded_jobs=S
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "functions", ROOT / "tools"):
    sys.path.insert(0, str(path))


# What a seed's outcome depends on: the product, the tools (the simulator) and the harness.
FINGERPRINTED = ("functions", "tools", "tests/simulation")


def code_fingerprint(root: Path = ROOT) -> str:
    """A digest of every file a seed's outcome depends on (paths and contents)."""
    digest = hashlib.sha256()
    for folder in FINGERPRINTED:
        for path in sorted((root / folder).rglob("*")):
            built = any(part == "__pycache__" or part.endswith(".egg-info") for part in path.parts)
            if built or not path.is_file() or path.suffix == ".pyc":
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def journal_line(result: dict[str, Any], fingerprint: str) -> str:
    kept = {**result, "code": fingerprint}
    if result["ok"]:
        kept["log"] = []
    return json.dumps(kept)


def run_one(seed: int) -> dict[str, Any]:
    from tests.simulation.runner import run_seed

    try:
        report = run_seed(seed)
    except Exception:
        return {"seed": seed, "ok": False, "summary": f"seed {seed}: HARNESS ERROR\n{traceback.format_exc()}",
                "defects": [], "breaks": ["harness_error"], "paid_twice": 0, "cross_tenant_lines": 0,
                "stranded_jobs": 0, "log": [],
                "wall": 0.0, "harness_error": True}
    return {
        "seed": seed, "ok": report.ok, "summary": report.summary(), "defects": report.defects,
        "breaks": sorted({v.invariant for v in report.violations}),
        "paid_twice": report.stats["paid_twice"], "cross_tenant_lines": report.stats["cross_tenant_lines"],
        "stranded_jobs": report.stats["stranded_jobs"], "log": report.stats["faults_fired"],
        "wall": report.stats["wall_seconds"], "harness_error": False,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, required=True, help="how many seeds")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)), help="processes")
    parser.add_argument("--verbose", action="store_true", help="print every seed, not only failures")
    parser.add_argument("--log", action="store_true", help="print the run log of failing seeds")
    parser.add_argument("--known", action="store_true",
                        help="end with the failing seeds as entries for tests/simulation/regression_seeds.py")
    parser.add_argument("--journal", type=Path,
                        help="append every seed's outcome here; seeds already in it are not run again")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # A TERM ends the run like Ctrl-C: the pool's exit terminates its workers.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    seeds = range(args.start, args.start + args.seeds)
    started = time.perf_counter()
    totals = {"failures": 0, "paid_twice": 0, "cross_tenant_lines": 0, "stranded_jobs": 0}
    by_defect: dict[int, list[int]] = {}
    failed: list[dict[str, Any]] = []
    fingerprint = code_fingerprint()
    earlier = read_journal(args.journal, seeds, fingerprint) if args.journal else {}
    to_run = [seed for seed in seeds if seed not in earlier]
    if earlier:
        print(f"{len(earlier)} seeds already in {args.journal} (code {fingerprint}); "
              f"running the other {len(to_run)}", flush=True)
    context = multiprocessing.get_context("spawn")
    with (args.journal.open("a", encoding="utf-8") if args.journal else contextlib.nullcontext()) as journal, \
            context.Pool(args.workers, maxtasksperchild=1000) as pool:
        for result in itertools.chain(earlier.values(), pool.imap_unordered(run_one, to_run)):
            if journal is not None and result["seed"] not in earlier:
                journal.write(journal_line(result, fingerprint) + "\n")
                journal.flush()
            if not result["ok"]:
                totals["failures"] += 1
                failed.append(result)
                for defect in result["defects"]:
                    by_defect.setdefault(defect, []).append(result["seed"])
            for key in ("paid_twice", "cross_tenant_lines", "stranded_jobs"):
                totals[key] += result[key]
            if args.verbose or not result["ok"]:
                print(result["summary"], flush=True)
                if result["defects"]:
                    print(f"  looks like defect(s) {result['defects']}", flush=True)
                if args.log and not result["ok"]:
                    print("\n".join(f"    {line}" for line in result["log"]), flush=True)
    elapsed = time.perf_counter() - started
    if args.known and failed:
        print("regression entries (check each story before pasting):")
        for result in sorted(failed, key=lambda r: r["seed"]):
            breaks = ", ".join(f'"{name}"' for name in result["breaks"])
            print(f'    {result["seed"]}: Known({tuple(result["defects"])}, frozenset({{{breaks}}}), "..."),')
    if by_defect:
        print("seeds by the defect they look like:")
        for defect in sorted(by_defect):
            found = sorted(by_defect[defect])
            print(f"  defect {defect}: {len(found)} seeds, e.g. {found[:12]}")
    ran = len(seeds) - len(earlier)
    print(f"{ran} seeds run in {elapsed:.0f} s ({elapsed / max(1, ran):.2f} s a seed with "
          f"{args.workers} workers)" + (f", {len(earlier)} taken from the journal" if earlier else ""))
    print(f"seeds={len(seeds)} failures={totals['failures']} paid_twice={totals['paid_twice']} "
          f"cross_tenant_lines={totals['cross_tenant_lines']} stranded_jobs={totals['stranded_jobs']}")
    return 1 if totals["failures"] else 0


def read_journal(path: Path, seeds: range, fingerprint: str) -> dict[int, dict[str, Any]]:
    """The outcomes already recorded for these seeds by this code (a line cut short by a kill,
    or written by other code, is skipped)."""
    if not path.exists():
        return {}
    found: dict[int, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                result = json.loads(line)
            except json.JSONDecodeError:
                continue
            if result.get("seed") in seeds and result.get("code") == fingerprint:
                found[result["seed"]] = result
    return found


if __name__ == "__main__":
    sys.exit(main())
