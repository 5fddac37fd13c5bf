"""Simulated providers, one module each (see simulator/plugins.py); importing this package
registers them all."""
