"""Data access over the single DynamoDB table: jobs, chunks, uploads, idempotency keys.

Every state change is a conditional write from the expected previous state; a refused
change raises ``TransitionRefused`` naming the state found.
"""
