"""The lifecycle under seeded faults: a fixed range of seeds and every seed that ever failed
(regression_seeds.py). A seed that fails today because of an open issue-9 defect is a strict
xfail; bench/simulate.py runs thousands more."""

from __future__ import annotations

import pytest

from tests.simulation.regression_seeds import FIXED_SEEDS, REGRESSION
from tests.simulation.runner import run_seed
from tests.simulation.verdicts import known_mark, verdict

SEEDS = sorted(set(FIXED_SEEDS) | set(REGRESSION))


@pytest.mark.parametrize(
    "seed", [pytest.param(seed, id=f"seed-{seed}", marks=known_mark(REGRESSION.get(seed))) for seed in SEEDS]
)
def test_every_invariant_holds_for_the_seed(seed):
    # Given the seed's tenants, jobs and fault mix; When the world runs it to the end
    report = run_seed(seed)

    # Then every invariant holds (or only the ones its open defect breaks)
    verdict(report, REGRESSION.get(seed))
