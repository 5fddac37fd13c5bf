"""A stateful stand-in for the OpenAI Batch and Anthropic Message Batches APIs on loopback.

The official SDKs work against it unchanged through their base URL. See settings.py for
the knobs (speed, per-request failures, whole-batch and transport faults).
"""

from batchrelay_tools.simulator.server import SimulatorServer
from batchrelay_tools.simulator.settings import FailureRule, SimulatorSettings, hash_fraction
from batchrelay_tools.simulator.state import Simulator

__all__ = ["FailureRule", "Simulator", "SimulatorServer", "SimulatorSettings", "hash_fraction"]
