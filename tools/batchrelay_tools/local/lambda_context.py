"""The context object Lambda passes to a handler, as far as our handlers and Powertools use it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from batchrelay import constants as c

LOCAL_ACCOUNT = "123456789012"


@dataclass
class LambdaContext:
    function_name: str
    timeout_seconds: float
    region: str = "us-east-1"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{LOCAL_ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def context_for(function: str, region: str = "us-east-1") -> LambdaContext:
    """A fresh context for one invocation of one of the stack's functions."""
    return LambdaContext(
        function_name=f"{c.SERVICE_NAME}-{function}",
        timeout_seconds=c.FUNCTION_TIMEOUTS.get(function, 60),
        region=region,
    )
