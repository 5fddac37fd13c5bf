"""Tools around the shipped ``batchrelay`` package that never ship to Lambda.

- ``local``: the whole stack on one machine (AWS emulator, API Gateway and Lambda
  runtime emulation, the provider simulator), ``make local`` and ``make demo``;
- ``simulator``: the stateful provider simulator on loopback;
- ``cli``: the ``batchrelay`` command, a client of the HTTP API;
- ``caches``: resets the per-container caches of every layer (local mode and tests).

These import ``batchrelay``; ``batchrelay`` never imports them.
"""
