"""Each issue-9 defect, as a named scenario (a seed with its fault plan forced): the test
the defect's fix must turn green. Until the fix lands each is a strict xfail that breaks
only the invariants its defect breaks (see verdicts.py; scenarios.py tells each story).
"""

from __future__ import annotations

import pytest

from tests.simulation.runner import run_scenario
from tests.simulation.scenarios import SCENARIOS, named
from tests.simulation.verdicts import Known, known_mark, verdict

# Scenarios whose defect is fixed: they must pass outright. Add the name with the fix (the
# strict xfail turns red the moment the scenario passes, as a reminder).
FIXED: set[str] = {
    "d1_cross_tenant_adoption", "d2_search_gives_up", "d3_takeover_forgets_window", "d4_dead_lettered_job_message",
    "d4_cancel_while_job_message_lost", "d5_planning_restarts", "d6_two_collectors_and_a_cancel", "d7_revoked_key",
    "d8_batch_answers_404",
}


def _case(name: str):
    scenario = named(name)
    known = None if name in FIXED else Known((scenario.defect,), scenario.breaks, scenario.story.split(". ")[0])
    marks = [*known_mark(known), *([pytest.mark.slow] if name == "d5_planning_restarts" else [])]
    return pytest.param(name, known, id=name, marks=marks)


@pytest.mark.parametrize(("name", "known"), [_case(name) for name in SCENARIOS])
def test_the_lifecycle_keeps_its_promises_in_the_defect_scenario(name, known):
    # Given a scenario built to reach one defect's crash path
    scenario = named(name).scenario

    # When it runs to the end (faults stop, then the world runs until nothing is left to do)
    report = run_scenario(scenario)

    # Then every invariant holds: one line per request, from its own chunk's batch; every job
    # final with its event; nothing paid twice; no second batch while the first could be found
    verdict(report, known)
