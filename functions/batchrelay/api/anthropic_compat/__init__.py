"""The Anthropic surface (``<api>/anthropic/v1/messages/batches``): Message Batches as Anthropic's
API has them, so the official ``anthropic`` SDK works with only its base URL and key changed.
The routes shape requests and answers; what they do lives in ``jobs.anthropic_batches``."""
