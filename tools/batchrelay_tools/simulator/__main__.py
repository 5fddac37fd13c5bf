"""Run the simulator standalone: ``python -m batchrelay_tools.simulator --port 8790``."""

from __future__ import annotations

import argparse
import json
import logging

from batchrelay_tools.simulator.server import SimulatorServer
from batchrelay_tools.simulator.settings import SimulatorSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m batchrelay_tools.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--processing-seconds", type=float, default=None)
    parser.add_argument("--settings", default=None, help="JSON object of SimulatorSettings fields")
    args = parser.parse_args(argv)

    settings = SimulatorSettings.from_dict(json.loads(args.settings)) if args.settings else SimulatorSettings()
    if args.processing_seconds is not None:
        settings.processing_seconds = args.processing_seconds
    logging.basicConfig(level=logging.INFO)
    server = SimulatorServer(settings, host=args.host, port=args.port)
    print(f"provider simulator on {server.base_url}  (OpenAI base {server.base_url_openai}, "
          f"Anthropic base {server.base_url_anthropic}; POST /_sim/config, GET /_sim/stats)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
