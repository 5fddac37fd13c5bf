"""The batch lifecycle: submit chunks as provider batches, poll them, collect and finalize.

Domain code only: nothing here knows about Lambda events (see functions/handlers/).
"""
