"""batchrelay: run LLM work through the providers' batch APIs.

Domain code lives in sub-packages, one per concern. Nothing here knows about Lambda
events; the entry points in ``functions/handlers`` adapt events to these modules.

Layers, from the top: a package imports its own layer and the layers below it, never one
above (tests/unit/architecture/test_layers.py checks every import). Packages on one level
may use each other, without cycles.

- ``api``: the HTTP routes, error mapping and the OpenAPI description; the drop-in surfaces
  (``api.openai_compat``, ``api.anthropic_compat``: the providers' own APIs over jobs) and the
  Lambda authorizer that finds a request's API key;
- ``jobs``: creating, reading, listing, cancelling and deleting jobs; input validation;
- ``lifecycle``: planning, batch creation, polling, collection, retries, finalizing;
- ``providers`` (adapters and their registry), ``results`` (result lines, parts, pricing),
  ``webhooks`` (signed deliveries), ``notifications`` (the job event on SNS), ``validation``
  (the rules every request passes, inline or uploaded; the duplicate-id check);
- ``store``: every DynamoDB call (jobs, chunks, claims, uploads, endpoints, deliveries);
- ``models``, ``aws`` (clients, S3 streaming, the bucket's key layout), ``settings``, ``registry``
  (what each provider is),
  ``constants``, ``ids``, ``errors``, ``clock``, ``jsonl``: shared by all.

Local mode, the provider simulator and the CLI live outside this package
(``tools/batchrelay_tools``): they import ``batchrelay``, never the reverse.
"""

__version__ = "0.1.0"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("api",),
    ("jobs",),
    ("lifecycle",),
    ("providers", "results", "webhooks", "notifications", "validation"),
    ("store",),
    ("models", "aws", "settings", "registry", "constants", "ids", "errors", "clock", "jsonl"),
)
