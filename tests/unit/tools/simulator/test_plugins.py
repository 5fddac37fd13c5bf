"""A simulated provider is one module: its routes are served under its prefix, with its own
state beside the built-in providers' and its own error shape."""

from __future__ import annotations

import httpx
import pytest

from batchrelay_tools.simulator import SimulatorServer, SimulatorSettings, plugins
from batchrelay_tools.simulator.state import ApiError


class CounterState:
    def __init__(self, sim):
        self.sim = sim
        self.count = 0


def _bump(request, state, body, name):
    if name == "bad":
        raise ApiError(404, "no such thing", code="not_found")
    state.count += 1
    request.send_json(200, {"name": name, "count": state.count, "at": state.sim.clock()})


@pytest.fixture
def toy_plugin():
    plugin = plugins.register(plugins.SimulatedProvider(
        name="toy",
        prefix="/toy",
        routes=(plugins.route("POST", "/v1/things/{name}", _bump, prefix="/toy"),),
        make_state=CounterState,
        error_body=lambda status, message, code: {"problem": {"status": status, "detail": message, "code": code}},
        authorized=lambda headers: headers.get("x-toy-key") == "k",
    ))
    yield plugin
    plugins.PLUGINS.pop("toy")


def test_a_plugin_serves_its_routes_with_its_own_state_and_errors(toy_plugin):
    with SimulatorServer(SimulatorSettings()) as sim:
        url = f"{sim.base_url}/toy/v1/things"
        assert httpx.post(f"{url}/a").status_code == 401
        first = httpx.post(f"{url}/a", headers={"x-toy-key": "k"}).json()
        second = httpx.post(f"{url}/b", headers={"x-toy-key": "k"}).json()
        assert (first["count"], second["count"]) == (1, 2)
        missing = httpx.post(f"{url}/bad", headers={"x-toy-key": "k"})
        assert missing.status_code == 404 and missing.json()["problem"]["code"] == "not_found"
        assert sim.calls("POST /toy/v1/things/{name}") == 4   # the refused one counts too
