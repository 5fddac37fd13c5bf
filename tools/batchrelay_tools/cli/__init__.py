"""The ``batchrelay`` command line client."""
