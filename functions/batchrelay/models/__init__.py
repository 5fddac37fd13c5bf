"""Pydantic models: API input/output, stored items, result lines, events."""
