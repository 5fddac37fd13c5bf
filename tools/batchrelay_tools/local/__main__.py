"""``make local``: the whole stack in the foreground on loopback, until Ctrl-C.

Prints where everything is, then one machine-readable line
``BATCHRELAY_READY url=... api_key=... aws=... bucket=...`` once requests are accepted.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from batchrelay_tools.local.config import ENV_API_KEY, MIN_API_KEY_LENGTH, LocalConfig
from batchrelay_tools.local.stack import LocalStack


def _banner(stack: LocalStack) -> str:
    info = stack.describe()
    key_note = f"  (generated; set {ENV_API_KEY} to choose it)" if stack.config.api_key_generated else ""
    lines = [
        "batchrelay local stack",
        f"  API        {info['url']}",
        f"  API key    {info['api_key']}{key_note}",
        f"  tenant     {info['tenant_id']}",
        f"  AWS        {info['aws_endpoint']}  (emulator; bucket {info['bucket']})",
        f"  results    {info['results']}  (or: batchrelay results JOB -o FILE)",
        f"  providers  {info['providers']}" + (f"  (simulator {info['simulator']})" if info["simulator"] else ""),
        f"  poller     every {stack.config.poll_seconds:g} s",
        "",
        f"  export BATCHRELAY_URL={info['url']} BATCHRELAY_API_KEY={info['api_key']}",
        "  Ctrl-C stops the stack.",
    ]
    return "\n".join(lines)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second Ctrl-C while stopping: do not wait for invocations in flight.
            os._exit(130)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        config = LocalConfig.from_env()
    except ValueError as exc:
        print(f"error: a BATCHRELAY_* setting is not a number: {exc}", file=sys.stderr)
        return 2
    if config.short_api_keys():
        print(f"error: BATCHRELAY_API_KEY / BATCHRELAY_EXTRA_API_KEYS: an API key has at least "
              f"{MIN_API_KEY_LENGTH} characters, as on API Gateway", file=sys.stderr)
        return 2
    stack = LocalStack(config)
    try:
        stack.start()
    except OSError as exc:
        print(f"error: cannot start the local stack: {exc} (BATCHRELAY_PORT={config.port}; "
              "choose another port, or 0 for a free one)", file=sys.stderr)
        stack.stop()
        return 1
    info = stack.describe()
    print(_banner(stack), flush=True)
    print(
        f"BATCHRELAY_READY url={info['url']} api_key={info['api_key']} aws={info['aws_endpoint']} "
        f"bucket={info['bucket']} simulator={info['simulator'] or '-'}",
        flush=True,
    )
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        print("stopping...", flush=True)
        stack.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
