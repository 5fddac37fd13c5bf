"""bench/simulate.py --journal: a run of hours can stop and be taken up again, and its
last line still counts every seed of the range."""

from __future__ import annotations

import json

from bench import simulate


def outcome(seed: int, ok: bool = True, paid_twice: int = 0) -> dict:
    return {"seed": seed, "ok": ok, "summary": f"seed {seed}: {'ok' if ok else 'BROKEN'}", "defects": [],
            "breaks": [] if ok else ["paid_twice"], "paid_twice": paid_twice, "cross_tenant_lines": 0,
            "stranded_jobs": 0, "log": [], "wall": 1.0, "harness_error": False}


def test_the_journal_gives_the_recorded_seeds_of_the_range_and_skips_a_line_cut_short(tmp_path):
    journal = tmp_path / "journal.jsonl"
    lines = [json.dumps(outcome(seed)) for seed in (4, 5, 6, 99)]
    journal.write_text("\n".join(lines) + "\n" + json.dumps(outcome(7))[:20])

    found = simulate.read_journal(journal, range(5, 10))

    assert sorted(found) == [5, 6]
    assert simulate.read_journal(tmp_path / "absent.jsonl", range(10)) == {}


def test_a_run_whose_seeds_are_all_in_the_journal_runs_none_and_counts_them_all(tmp_path, capsys):
    journal = tmp_path / "journal.jsonl"
    journal.write_text("".join(json.dumps(outcome(seed, ok=seed != 2, paid_twice=int(seed == 2))) + "\n"
                               for seed in range(4)))

    code = simulate.main(["--seeds", "4", "--workers", "1", "--journal", str(journal)])

    out = capsys.readouterr().out
    assert "4 seeds already in" in out and "running the other 0" in out
    assert "seed 2: BROKEN" in out
    assert out.strip().splitlines()[-1] == "seeds=4 failures=1 paid_twice=1 cross_tenant_lines=0 stranded_jobs=0"
    assert code == 1
    assert len(journal.read_text().splitlines()) == 4     # nothing written twice
