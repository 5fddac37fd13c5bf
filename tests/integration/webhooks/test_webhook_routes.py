"""The webhook-endpoint routes and the delivery log, through the real `api` handler."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from batchrelay.settings import get_settings
from batchrelay.store import delivery_store
from tests.support.webhooks import Reply, call_api, make_job, publish_final_event, register, store_job


def test_register_answers_the_secret_once_and_list_never_shows_it(webhook_env, receiver):
    # When an endpoint is registered
    created = call_api("POST", "/v1/webhook-endpoints", {"url": receiver.url("/a"), "description": "ops"})
    # Then the answer has its id, all job event types by default and its secret
    assert created.status == 201
    assert created.body["id"].startswith("whe_") and created.body["secret"].startswith("whsec_")
    assert created.body["event_types"] == [
        "job.completed", "job.completed_with_errors", "job.failed", "job.cancelled", "job.expired"
    ]
    # And listing shows it without the secret
    listed = call_api("GET", "/v1/webhook-endpoints")
    assert listed.status == 200
    assert [e["id"] for e in listed.body["data"]] == [created.body["id"]]
    assert "secret" not in listed.body["data"][0] and listed.body["data"][0]["enabled"] is True
    # And another tenant sees none of it
    assert call_api("GET", "/v1/webhook-endpoints", tenant="tenant-b").body == {"data": []}


def test_delete_removes_the_endpoint_once(webhook_env, receiver):
    created = register(receiver, "/a")
    assert call_api("DELETE", f"/v1/webhook-endpoints/{created['id']}", tenant="tenant-b").status == 404
    assert call_api("DELETE", f"/v1/webhook-endpoints/{created['id']}").status == 204
    assert call_api("GET", "/v1/webhook-endpoints").body == {"data": []}
    gone = call_api("DELETE", f"/v1/webhook-endpoints/{created['id']}")
    assert gone.status == 404 and gone.body["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:192.168.0.1]/hook",
        "https://user:pass@example.com/hook",
        "ftp://example.com/hook",
        "not a url",
    ],
)
def test_forbidden_urls_are_refused_with_400_naming_the_url(aws, url):
    answer = call_api("POST", "/v1/webhook-endpoints", {"url": url})
    assert answer.status == 400, answer.body
    assert answer.body["error"]["field"] == "url"
    assert call_api("GET", "/v1/webhook-endpoints").body == {"data": []}


def test_http_is_refused_unless_the_setting_allows_it(aws, monkeypatch):
    assert call_api("POST", "/v1/webhook-endpoints", {"url": "http://[::1]:9/x"}).status == 400
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "1")
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "1")
    get_settings.cache_clear()
    assert call_api("POST", "/v1/webhook-endpoints", {"url": "http://[::1]:9/x"}).status == 201


def test_a_url_on_another_port_than_443_is_refused_for_endpoints_and_jobs(aws, monkeypatch):
    # Given a deployed setup (no local exceptions) with one extra destination allowed
    monkeypatch.setenv("WEBHOOK_ALLOWED_DESTINATIONS", "93.184.216.34:9443")
    get_settings.cache_clear()
    # When an endpoint or a job names a public address on another port
    endpoint = call_api("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34:8443/hook"})
    job = call_api("POST", "/v1/jobs", {
        "provider": "openai", "endpoint": "/v1/chat/completions", "webhook_url": "https://93.184.216.34:8443/hook",
        "requests": [{"custom_id": "a", "body": {"model": "gpt-4o-mini", "messages": []}}],
    })
    # Then both are refused, naming their field and what is allowed, and nothing is stored
    assert endpoint.status == 400 and endpoint.body["error"]["field"] == "url"
    assert job.status == 400 and job.body["error"]["field"] == "webhook_url"
    for answer in (endpoint, job):
        assert "https on port 443" in answer.body["error"]["message"]
        assert "93.184.216.34:9443" in answer.body["error"]["message"]
    assert call_api("GET", "/v1/webhook-endpoints").body == {"data": []}
    assert call_api("GET", "/v1/jobs").body["data"] == []
    # And the allowed destination is accepted
    assert call_api("POST", "/v1/webhook-endpoints", {"url": "https://93.184.216.34:9443/hook"}).status == 201


@pytest.mark.parametrize("event_types", [[], ["job.started"], "job.completed"])
def test_bad_event_types_are_refused(webhook_env, receiver, event_types):
    answer = call_api("POST", "/v1/webhook-endpoints", {"url": receiver.url("/a"), "event_types": event_types})
    assert answer.status == 400
    assert answer.body["error"]["field"].startswith("event_types")


def test_test_route_sends_a_signed_test_event(webhook_env, receiver):
    # Given a registered endpoint
    created = register(receiver, "/t")
    # When a test is asked for
    answer = call_api("POST", f"/v1/webhook-endpoints/{created['id']}/test")
    # Then the receiver got a verified webhook.test event and the answer says so
    assert answer.status == 200
    assert answer.body["delivered"] is True and answer.body["status_code"] == 200 and answer.body["error"] is None
    assert answer.body["attempt"]["attempt"] == 1
    got = receiver.at("/t")
    assert len(got) == 1 and got[0].error is None
    assert got[0].verified["type"] == "webhook.test"
    assert got[0].verified["data"]["endpoint_id"] == created["id"]


def test_test_route_reports_a_failing_receiver(webhook_env, receiver):
    created = register(receiver, "/t")
    receiver.script("/t", Reply(500))
    answer = call_api("POST", f"/v1/webhook-endpoints/{created['id']}/test")
    assert answer.status == 200
    assert answer.body["delivered"] is False and answer.body["status_code"] == 500
    assert call_api("POST", "/v1/webhook-endpoints/whe_nope/test").status == 404


def test_job_url_deliveries_are_signed_with_the_tenant_secret_shown_by_rotation(webhook_env, receiver, queue, clock):
    # Given the tenant fetched (rotated) its signing secret
    answer = call_api("POST", "/v1/webhook-endpoints/tenant-secret")
    assert answer.status == 201 and answer.body["secret"].startswith("whsec_")
    receiver.secrets["/job"] = answer.body["secret"]
    # When a job with its own webhook_url finishes
    publish_final_event(store_job(make_job(webhook_url=receiver.url("/job"))))
    queue.drain()
    # Then the delivery verifies with that secret
    got = receiver.at("/job")
    assert len(got) == 1 and got[0].error is None
    assert Webhook(answer.body["secret"]).verify(got[0].body, got[0].headers)["type"] == "job.completed"


def test_deliveries_of_another_tenants_job_are_not_found(webhook_env, receiver, queue, clock):
    register(receiver, "/a")
    publish_final_event(store_job(make_job()))
    queue.drain()
    assert len(delivery_store.list_deliveries("job_01")) == 1
    mine = call_api("GET", "/v1/jobs/job_01/deliveries")
    assert mine.status == 200 and len(mine.body["data"]) == 1
    assert "payload" not in mine.body["data"][0] and "claim_expires" not in mine.body["data"][0]
    theirs = call_api("GET", "/v1/jobs/job_01/deliveries", tenant="tenant-b")
    assert theirs.status == 404
    assert call_api("GET", "/v1/jobs/job_missing/deliveries").status == 404


def test_the_routes_are_in_the_openapi_description(aws):
    answer = call_api("GET", "/v1/openapi.json")
    paths = answer.body["paths"]
    for path in (
        "/v1/webhook-endpoints",
        "/v1/webhook-endpoints/{endpoint_id}",
        "/v1/webhook-endpoints/{endpoint_id}/test",
        "/v1/webhook-endpoints/tenant-secret",
        "/v1/jobs/{job_id}/deliveries",
    ):
        assert path in paths


def test_the_routes_do_not_pull_the_openai_sdk_into_the_api_function():
    import subprocess
    import sys

    code = "import sys, batchrelay.api.webhook_routes; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="functions", check=True)
    assert out.stdout.strip() == "False"


def test_a_tenant_has_a_bounded_number_of_endpoints(webhook_env, receiver, monkeypatch):
    from batchrelay.api import webhook_routes

    monkeypatch.setattr(webhook_routes, "MAX_ENDPOINTS_PER_TENANT", 2)
    register(receiver, "/one")
    register(receiver, "/two")
    answer = call_api("POST", "/v1/webhook-endpoints", {"url": receiver.url("/three")})
    assert answer.status == 409 and answer.body["error"]["code"] == "too_many_endpoints"
    # Another tenant is not affected
    register(receiver, "/other", tenant="tenant-b")
