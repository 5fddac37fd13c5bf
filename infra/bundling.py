"""The Lambda code asset: ``functions/`` with its runtime dependencies.

All six functions share one asset (same hash, uploaded once); each picks its entry point
with ``handlers.<name>.handler``. Bundling runs pip on this machine (no Docker) for the
Lambda platform: Python 3.13 on arm64, binary wheels only. Tests and quick synths skip
it (context ``bundle=false`` or env ``BATCHRELAY_SKIP_BUNDLING=1``) and ship the source
tree alone, which is enough to assert on the template.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from infra import FUNCTIONS_DIR

LAMBDA_PYTHON_VERSION = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
REQUIREMENTS_FILE = "requirements.txt"
# What the Lambda package carries: the domain package and the entry points.
PACKAGES = ("batchrelay", "handlers")
# The Lambda runtime provides the AWS SDK; shipping botocore (pulled in by aws-xray-sdk)
# would add ~80 MB and could mismatch the runtime's boto3.
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Local-only code (provider simulator, local runtime, CLI) lives outside functions/, in
# tools/batchrelay_tools, so nothing needs excluding here but caches and build debris.
_NEVER_SHIPPED = ("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")
ASSET_EXCLUDES = [f"**/{pattern}" for pattern in _NEVER_SHIPPED]


class BundlingError(RuntimeError):
    """pip could not produce the Lambda package."""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Bundles on the host: pip installs arm64 wheels into the output, then copies the code."""

    def __init__(self, source_dir: Path = FUNCTIONS_DIR) -> None:
        self.source_dir = source_dir

    def try_bundle(self, output_dir: str, *_args: object, **_options: object) -> bool:
        output = Path(output_dir)
        self.install_requirements(output)
        remove_runtime_provided(output)
        copy_packages(self.source_dir, output)
        return True

    def install_requirements(self, output: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install",
            "--platform", LAMBDA_PLATFORM,
            "--python-version", LAMBDA_PYTHON_VERSION,
            "--implementation", "cp",
            "--only-binary=:all:",
            "--upgrade",
            "--no-compile",  # the host's bytecode would not match the Lambda's Python
            "--quiet",
            "--target", str(output),
            "-r", str(self.source_dir / REQUIREMENTS_FILE),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            # Fail loudly: falling back to Docker bundling would fail anyway (no Docker here).
            raise BundlingError(
                f"pip could not install {REQUIREMENTS_FILE} for {LAMBDA_PLATFORM} / Python "
                f"{LAMBDA_PYTHON_VERSION}; synthesize with -c bundle=false to skip bundling.\n{result.stderr}"
            )


def remove_runtime_provided(output: Path) -> None:
    for package in PROVIDED_BY_RUNTIME:
        for path in (output / package, *output.glob(f"{package}-*.dist-info")):
            shutil.rmtree(path, ignore_errors=True)


def copy_packages(source_dir: Path, output: Path) -> None:
    """Copy the shipped packages into ``output``, leaving caches out."""
    for package in PACKAGES:
        shutil.copytree(
            source_dir / package, output / package, ignore=shutil.ignore_patterns(*_NEVER_SHIPPED), dirs_exist_ok=True
        )


def function_code(*, bundle: bool, source_dir: Path = FUNCTIONS_DIR) -> lambda_.Code:
    """The shared code asset; ``bundle=False`` ships the source tree without dependencies."""
    if not bundle:
        return lambda_.Code.from_asset(str(source_dir), exclude=[*ASSET_EXCLUDES, REQUIREMENTS_FILE])
    return lambda_.Code.from_asset(
        str(source_dir),
        # The source hash covers requirements.txt, so a dependency change makes a new asset.
        asset_hash_type=AssetHashType.SOURCE,
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            # Only used if local bundling declined, which it never does: it raises instead.
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{LAMBDA_PYTHON_VERSION}"),
            local=PipLocalBundling(source_dir),
        ),
    )
