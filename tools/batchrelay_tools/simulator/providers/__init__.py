"""Simulated providers, one module each (see simulator/plugins.py); importing this package
registers them all."""

from batchrelay_tools.simulator.providers import (  # noqa: F401
    azure_openai,
    bedrock,
    gemini,
    groq,
    mistral,
    openai_compatible,
)
