"""FastAPI dependencies of matching: the app's in-memory suggestion cache."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.matching.cache import SuggestionCache


async def get_suggestion_cache(request: Request) -> SuggestionCache | None:
    """The cache made in the app's lifespan; None when KOBLE_SUGGESTION_CACHE_ENTRIES is 0."""
    # async: FastAPI runs plain `def` dependencies in a thread pool, a cost on the suggestions path.
    cache: SuggestionCache | None = getattr(request.app.state, "suggestion_cache", None)
    return cache


SuggestionCacheDep = Annotated[SuggestionCache | None, Depends(get_suggestion_cache)]
