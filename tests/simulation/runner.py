"""Run a seed or a scenario and check it: the one call the tests and bench/simulate.py make."""

from __future__ import annotations

from tests.simulation.invariants import Report, check
from tests.simulation.scenario import Scenario, scenario_for_seed
from tests.simulation.world import World


def run_scenario(scenario: Scenario) -> Report:
    data = World(scenario).run()
    report = check(data)
    report.stats["faults_fired"] = data.faults_fired
    return report


def run_seed(seed: int) -> Report:
    return run_scenario(scenario_for_seed(seed))
