"""The HTTP API: one Powertools resolver, routers per resource, errors mapped in one place."""
