"""batchrelay: run LLM work through the providers' batch APIs.

Domain code lives in sub-packages, one per concern. Nothing here knows about Lambda
events; the entry points in ``functions/handlers`` adapt events to these modules.
"""

__version__ = "0.1.0"
