"""bench/simulate.py --journal: a run of hours can stop and be taken up again, its last line
still counts every seed of the range, and it never counts a seed that other code ran."""

from __future__ import annotations

import json

from bench import simulate

CODE = "code-of-today"


def outcome(seed: int, ok: bool = True, paid_twice: int = 0) -> dict:
    return {"seed": seed, "ok": ok, "summary": f"seed {seed}: {'ok' if ok else 'BROKEN'}", "defects": [],
            "breaks": [] if ok else ["paid_twice"], "paid_twice": paid_twice, "cross_tenant_lines": 0,
            "stranded_jobs": 0, "log": ["0.00s fault"], "wall": 1.0, "harness_error": False}


def line(seed: int, code: str = CODE, **kwargs) -> str:
    return simulate.journal_line(outcome(seed, **kwargs), code)


def test_the_journal_gives_this_codes_seeds_of_the_range_and_skips_a_line_cut_short(tmp_path):
    journal = tmp_path / "journal.jsonl"
    lines = [line(4), line(5), line(6), line(8, code="code-of-yesterday"), line(99)]
    journal.write_text("\n".join(lines) + "\n" + line(7)[:20])

    found = simulate.read_journal(journal, range(5, 10), CODE)

    assert sorted(found) == [5, 6]
    assert simulate.read_journal(tmp_path / "absent.jsonl", range(10), CODE) == {}


def test_a_line_keeps_the_run_log_of_a_failing_seed_only():
    assert json.loads(line(1))["log"] == []
    assert json.loads(line(2, ok=False))["log"] == ["0.00s fault"]
    assert json.loads(line(1))["code"] == CODE


def test_the_fingerprint_follows_the_code_a_seed_runs_and_nothing_built(tmp_path):
    for folder in simulate.FINGERPRINTED:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "module.py").write_text("X = 1\n")
    before = simulate.code_fingerprint(tmp_path)

    (tmp_path / "functions" / "pkg.egg-info").mkdir()
    (tmp_path / "functions" / "pkg.egg-info" / "PKG-INFO").write_text("built\n")
    (tmp_path / "tools" / "__pycache__").mkdir()
    (tmp_path / "tools" / "__pycache__" / "module.cpython-311.pyc").write_bytes(b"\0")
    assert simulate.code_fingerprint(tmp_path) == before

    (tmp_path / "tests" / "simulation" / "module.py").write_text("X = 2\n")
    assert simulate.code_fingerprint(tmp_path) != before


def test_a_run_whose_seeds_are_all_in_the_journal_runs_none_and_counts_them_all(tmp_path, capsys):
    journal = tmp_path / "journal.jsonl"
    code = simulate.code_fingerprint()
    journal.write_text("".join(line(seed, code=code, ok=seed != 2, paid_twice=int(seed == 2)) + "\n"
                               for seed in range(4)))

    exit_code = simulate.main(["--seeds", "4", "--workers", "1", "--journal", str(journal)])

    out = capsys.readouterr().out
    assert "4 seeds already in" in out and "running the other 0" in out
    assert "seed 2: BROKEN" in out
    assert out.strip().splitlines()[-1] == "seeds=4 failures=1 paid_twice=1 cross_tenant_lines=0 stranded_jobs=0"
    assert exit_code == 1
    assert len(journal.read_text().splitlines()) == 4     # nothing written twice
