"""The batchrelay CDK app: one construct per concern, composed in ``infra.stack``.

The functions' ``batchrelay.constants`` module is the single source of truth for names,
environment variable names and timeouts; the infra imports it, so ``functions/`` goes
on the import path here, before any infra module is imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# jsii prints a large banner on every start when Node is past its support window (Node 20
# here); it is noise in synth and test output. Set before anything imports aws_cdk.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"

if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))
