"""Lambda entry points: thin adapters from events to batchrelay's domain code."""
