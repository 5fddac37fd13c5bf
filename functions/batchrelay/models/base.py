"""The base of batchrelay's models."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A pydantic model whose validator is built on first use, not at import (defer_build):
    a cold start pays only for the models its first request uses (the API function defines
    some fifty and a GET uses a few)."""

    model_config = ConfigDict(defer_build=True)
