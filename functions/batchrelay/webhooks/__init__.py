"""Signed webhook delivery: endpoints, Standard Webhooks signing, SSRF guard, retries, log."""
