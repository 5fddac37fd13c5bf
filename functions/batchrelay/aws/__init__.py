"""Cached AWS clients. boto3 honours AWS_ENDPOINT_URL, which is how local mode and the
tests point every client at the emulator."""
