"""The two AWS backends the contract suite runs every case against: moto in process and
the simulation's fakes behind botocore's ``before-send``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.simulation.fake_aws.wire import FakeAWS, install, uninstall

AWS_TEST_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@contextmanager
def aws_env() -> Iterator[None]:
    """Fake credentials and no endpoint override while the block runs (restored after)."""
    saved = {k: os.environ.get(k) for k in [*AWS_TEST_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(AWS_TEST_ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def fake_backend(clock=lambda: 1_767_225_600.0) -> Iterator[FakeAWS]:
    """Every boto3 client created inside the block talks to one FakeAWS."""
    fake = FakeAWS(clock)
    install(lambda request, event_name, **_: fake.respond(event_name, request))
    try:
        with aws_env():
            yield fake
    finally:
        uninstall()


@contextmanager
def moto_backend() -> Iterator[None]:
    from moto import mock_aws

    with aws_env(), mock_aws():
        yield


@contextmanager
def backend(name: str) -> Iterator[object]:
    if name == "fake":
        with fake_backend() as fake:
            yield fake
    else:
        with moto_backend():
            yield None
