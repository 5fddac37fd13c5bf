"""The REST API: API keys and a usage plan, access logs, the api and openai_webhook functions.

The tenant is the API key. Clients send it in two ways: ``x-api-key`` (batchrelay's clients,
the anthropic SDK up to 0.x) and ``Authorization: Bearer`` (the openai SDK, the anthropic SDK
from 2.x). API Gateway's API key source is one setting for the whole API, and reading the key
from a header only knows ``x-api-key``, so the key comes from a Lambda authorizer (source
AUTHORIZER). A cached REQUEST authorizer refuses, before it runs, a request without its
identity header, so one cached authorizer cannot take either header: each route family gets
the authorizer of the headers its clients send (``constants.KEY_HEADERS``): ``/v1`` a cached
one on ``x-api-key``, ``/openai/v1`` a cached one on ``Authorization``, ``/anthropic/v1`` an
uncached one that reads either (it runs for every request there). All run the ``authorizer``
function, which finds the key and returns it as ``usageIdentifierKey``: API Gateway then
checks it against the usage plan (per-key throttling and quota, as before) and hands the key's
id to the function as ``requestContext.identity.apiKeyId``, the tenant, whichever header
carried it.

API Gateway's own error answers (401, 403, 404 for no route, 413, 429) carry one body that
reads as batchrelay's, OpenAI's and Anthropic's error shape at once (``GATEWAY_RESPONSES``).
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from batchrelay import constants as c
from infra.settings import StackSettings

API_PREFIX = "/v1"


class BatchRelayApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api_function: lambda_.IFunction,
        openai_webhook_function: lambda_.IFunction,
        authorizer_function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=settings.log_retention)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{settings.stack_name}-api",
            description=f"{c.SERVICE_NAME}: LLM batch jobs over HTTPS",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The key comes from the authorizers below (x-api-key or Authorization: Bearer).
            api_key_source_type=apigw.ApiKeySourceType.AUTHORIZER,
            # File uploads reach the function base64-encoded, byte for byte.
            binary_media_types=list(c.BINARY_MEDIA_TYPES),
            # The account-level role that lets API Gateway write execution logs. Retained:
            # it is shared by every API of the account and region.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=settings.stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                # Never log bodies: they carry the users' prompts.
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
                # Stage-wide ceiling; the usage plan limits each API key below it.
                throttling_rate_limit=settings.api_throttle_rate_limit * 2,
                throttling_burst_limit=settings.api_throttle_burst_limit * 2,
            ),
        )
        self.key_authorizers = self._add_authorizers(settings, authorizer_function)
        self._add_routes(api_function, openai_webhook_function)
        self._add_gateway_responses()
        self.api_key = self._add_usage_plan(settings)

    @property
    def url(self) -> str:
        return self.rest_api.url_for_path(API_PREFIX)

    @property
    def stage(self) -> apigw.Stage:
        return self.rest_api.deployment_stage

    def _add_authorizers(
        self, settings: StackSettings, authorizer_function: lambda_.IFunction
    ) -> dict[tuple[str, ...], apigw.RequestAuthorizer]:
        """One REQUEST authorizer per set of key headers, all running the authorizer function:
        cached on its header for one header, uncached (no identity source) for several."""
        authorizers = {}
        for headers in sorted(set(c.KEY_HEADERS.values())):
            name = "Or".join(h.title().replace("-", "") for h in headers)
            cached = len(headers) == 1
            authorizers[headers] = apigw.RequestAuthorizer(
                self,
                f"{name}Authorizer",
                authorizer_name=f"{settings.stack_name}-{'-or-'.join(h.lower() for h in headers)}",
                handler=authorizer_function,
                identity_sources=[apigw.IdentitySource.header(headers[0])] if cached else [],
                results_cache_ttl=Duration.seconds(c.AUTHORIZER_CACHE_SECONDS if cached else 0),
            )
        return authorizers

    def _add_routes(self, api_function: lambda_.IFunction, openai_webhook_function: lambda_.IFunction) -> None:
        api = apigw.LambdaIntegration(api_function, proxy=True, allow_test_invoke=False)
        root = self.rest_api.root
        # Every route of a family goes to the api function (its resolver does the routing)
        # and needs an API key, found by the authorizer of the family's header...
        for prefix, headers in c.KEY_HEADERS.items():
            root.resource_for_path(prefix).add_proxy(
                default_integration=api,
                any_method=True,
                default_method_options=apigw.MethodOptions(
                    api_key_required=True,
                    authorization_type=apigw.AuthorizationType.CUSTOM,
                    authorizer=self.key_authorizers[headers],
                ),
            )
        # ...except the liveness check, and the OpenAI webhook, which OpenAI signs (the
        # function verifies the signature) and which goes to its own function so that
        # the api function never imports the openai SDK.
        root.resource_for_path(c.HEALTH_PATH).add_method("GET", api, api_key_required=False)
        root.resource_for_path(c.OPENAI_WEBHOOK_PATH).add_method(
            "POST",
            apigw.LambdaIntegration(openai_webhook_function, proxy=True, allow_test_invoke=False),
            api_key_required=False,
        )

    def _add_gateway_responses(self) -> None:
        for response_type, (status, *_) in c.GATEWAY_RESPONSES.items():
            self.rest_api.add_gateway_response(
                f"{response_type.title().replace('_', '')}Response",
                type=apigw.ResponseType.of(response_type),
                status_code=str(status),
                templates={"application/json": json.dumps(c.gateway_error_body(response_type))},
            )

    def _add_usage_plan(self, settings: StackSettings) -> apigw.IApiKey:
        quota = (
            apigw.QuotaSettings(limit=settings.api_quota_per_day, period=apigw.Period.DAY)
            if settings.api_quota_per_day > 0
            else None
        )
        plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{settings.stack_name}-default",
            description="Per-API-key (per-tenant) throttling; add tenants' keys to this plan",
            throttle=apigw.ThrottleSettings(
                rate_limit=settings.api_throttle_rate_limit, burst_limit=settings.api_throttle_burst_limit
            ),
            quota=quota,
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)],
        )
        # A first tenant; more are added with create-api-key + create-usage-plan-key.
        api_key = self.rest_api.add_api_key("DefaultTenantKey", api_key_name=f"{settings.stack_name}-default-tenant")
        plan.add_api_key(api_key)
        return api_key
