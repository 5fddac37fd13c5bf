"""The API's address as the client called it: the stage, or a custom domain's base path."""

from __future__ import annotations

from batchrelay.api.request_urls import public_base_url


def event(path: str, called: str, host: str = "abc.execute-api.eu-west-1.amazonaws.com", proto: str | None = "https"):
    headers = {"Host": host, **({"X-Forwarded-Proto": proto} if proto else {})}
    return {"path": path, "headers": headers, "requestContext": {"path": called, "domainName": host}}


def test_the_stage_is_part_of_the_base_url():
    path = "/anthropic/v1/messages/batches/job_1"
    assert public_base_url(event(path, "/prod" + path)) == "https://abc.execute-api.eu-west-1.amazonaws.com/prod"


def test_a_custom_domain_with_and_without_a_base_path():
    path = "/anthropic/v1/messages/batches"
    assert public_base_url(event(path, "/batch" + path, host="api.example.com")) == "https://api.example.com/batch"
    assert public_base_url(event(path, path, host="api.example.com")) == "https://api.example.com"


def test_local_mode_is_plain_http_on_its_port():
    path = "/anthropic/v1/messages/batches"
    assert public_base_url(event(path, path, host="127.0.0.1:8787", proto="http")) == "http://127.0.0.1:8787"
