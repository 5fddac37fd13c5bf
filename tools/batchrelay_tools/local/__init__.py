"""Local mode: the AWS resources on an emulator, a Lambda-like runtime, an API server."""
