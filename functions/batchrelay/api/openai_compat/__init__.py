"""The OpenAI surface (``<api>/openai/v1``): Files, Uploads and Batches as OpenAI's API has them,
so the official ``openai`` SDK works with only its base URL and key changed. The routes shape
requests and answers; what they do lives in ``jobs.openai_files`` and ``jobs.openai_batches``."""
