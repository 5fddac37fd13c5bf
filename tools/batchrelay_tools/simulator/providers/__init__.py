"""Simulated providers, one module each (see simulator/plugins.py); importing this package
registers them all."""

from batchrelay_tools.simulator.providers import gemini  # noqa: F401  (Gemini Batch + Files API)
