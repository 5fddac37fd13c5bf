"""Logger, Tracer and Metrics, created once and imported by every handler."""

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

from batchrelay.constants import ENV_FUNCTION, FUNCTION_API, FUNCTION_AUTHORIZER, METRICS_NAMESPACE, SERVICE_NAME

# Left to itself the X-Ray SDK patches (and so imports) every library it supports that is
# installed: httpx with pygments and click, requests, pynamodb... about half a second of
# the API function's cold start. Each function traces what it calls: AWS (botocore) and,
# where provider SDKs and webhook deliveries run, httpx.
TRACED_MODULES = {FUNCTION_API: ("botocore",), FUNCTION_AUTHORIZER: ("botocore",)}
DEFAULT_TRACED_MODULES = ("botocore", "httpx")

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(
    service=SERVICE_NAME,
    patch_modules=TRACED_MODULES.get(os.environ.get(ENV_FUNCTION, ""), DEFAULT_TRACED_MODULES),
)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
