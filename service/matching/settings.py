"""The ranker's settings: weights, fitted-weights file and retrieval knobs, read from the environment and `.env`.

Matching owns them (docs/architecture.md, "Settings"): plumbing's `service.kit.config.Settings` holds
no ranker field, so it imports no domain. The variable names are the README's (`KOBLE_WEIGHT_*`, ...).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.matching import scoring

_WEIGHTS = scoring.Weights()


class RankerSettings(BaseSettings):
    """How suggestions are ranked and retrieved; every weight is explained in `scoring.Weights`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    weight_reciprocal: float = Field(_WEIGHTS.reciprocal, alias="KOBLE_WEIGHT_RECIPROCAL")
    weight_lexical: float = Field(_WEIGHTS.lexical, alias="KOBLE_WEIGHT_LEXICAL")
    weight_availability: float = Field(_WEIGHTS.availability, alias="KOBLE_WEIGHT_AVAILABILITY")
    weight_engagement: float = Field(_WEIGHTS.engagement, alias="KOBLE_WEIGHT_ENGAGEMENT")
    weight_language: float = Field(_WEIGHTS.language, alias="KOBLE_WEIGHT_LANGUAGE")
    weight_location: float = Field(_WEIGHTS.location, alias="KOBLE_WEIGHT_LOCATION")
    weight_freshness: float = Field(_WEIGHTS.freshness, alias="KOBLE_WEIGHT_FRESHNESS")
    weight_exposure: float = Field(_WEIGHTS.exposure, alias="KOBLE_WEIGHT_EXPOSURE")
    # Weights fitted by `koble fit-weights` (evaluation/README.md): its values replace the weight_*
    # defaults above; a KOBLE_WEIGHT_* set explicitly still wins. A bad file stops start-up.
    weights_file: Path | None = Field(None, alias="KOBLE_WEIGHTS_FILE")
    # Cosine that counts as no similarity; unset: chosen per model (scoring.default_similarity_floor).
    similarity_floor: float | None = Field(None, ge=-1.0, lt=1.0, alias="KOBLE_SIMILARITY_FLOOR")
    # Added to cosines of pairs in different languages; unset: chosen per model (scoring.default_cross_lingual_shift).
    cross_lingual_shift: float | None = Field(None, ge=-0.5, le=0.5, alias="KOBLE_CROSS_LINGUAL_SHIFT")
    # Nearest neighbours fetched per direction before ranking; the final top k comes from their union.
    # 50 / 100 / 200 / 400 gave recall@10 0.79 / 0.90 / 0.96 / 0.99 against the exact ranking at 100k
    # synthetic participants, at 88 / 106 / 171 / 552 ms (bench/README.md); the suggestion cache pays it once.
    # Below this many side vectors an exact filtered scan is as fast as the index (bench/README.md) and never misses.
    exact_search_below: int = Field(20_000, ge=0, alias="KOBLE_EXACT_SEARCH_BELOW")
    # Candidates the exact scan takes by relevance (the ranker's reciprocal fit) before full scoring.
    exact_candidates: int = Field(200, ge=10, le=5000, alias="KOBLE_EXACT_CANDIDATES")
    # Above exact_search_below, the relevance is computed over a pool: per other kind, these many best by the
    # sum of both directions' cosines (HNSW over pair vectors), plus the candidates sharing a query term
    # that at most rare_term_rows participants have (bench/README.md: recall at 100k).
    pair_candidates: int = Field(300, ge=10, le=1000, alias="KOBLE_PAIR_CANDIDATES")
    rare_term_rows: int = Field(1_000, ge=0, alias="KOBLE_RARE_TERM_ROWS")
    # Participants whose ranked candidates `koble serve` keeps (service.matching.cache): ~10 KB each.
    suggestion_cache_entries: int = Field(10_000, ge=0, alias="KOBLE_SUGGESTION_CACHE_ENTRIES")
    exposure_half_life_days: float = Field(7.0, gt=0, alias="KOBLE_EXPOSURE_HALF_LIFE_DAYS")
    # The read-time state (visibility, activity, exposure, capacity, blocks) kept in `koble serve`'s memory and
    # kept exact across processes by LISTEN/NOTIFY (service.matching.memory): a cache hit then reads no
    # database. Showings are written in one statement per `exposure_flush_ms` for every request meanwhile:
    # each write is also a notification every process parses. At 20 ms those writes were the mixed load's
    # largest PostgreSQL statement (~20 % of its time, bench/README.md); at 100 ms another process sees a
    # showing 0.1 s later, well inside the 1 s in which processes must agree.
    read_time_memory: bool = Field(True, alias="KOBLE_READ_TIME_MEMORY")
    exposure_flush_ms: int = Field(100, ge=1, le=1000, alias="KOBLE_EXPOSURE_FLUSH_MS")
    # A direction's cosine: this share from the best interest pair, the rest from the side means
    # (scoring.Weights.interest).
    interest_blend: float = Field(_WEIGHTS.interest, ge=0.0, le=1.0, alias="KOBLE_INTEREST_BLEND")

    @model_validator(mode="after")
    def _fitted_weights(self) -> RankerSettings:
        if self.weights_file is None:
            return self
        for field, value in fitted_weights(self.weights_file).items():
            if field in type(self).model_fields and field not in self.model_fields_set:
                setattr(self, field, value)
        return self

    def weights(self, model: str) -> scoring.Weights:
        """The configured weights for a model (its similarity floor and shift unless set)."""
        floor, shift = self.similarity_floor, self.cross_lingual_shift
        return scoring.Weights(
            **{name: getattr(self, f"weight_{name}") for name in scoring.WEIGHT_NAMES},
            similarity_floor=scoring.default_similarity_floor(model) if floor is None else floor,
            cross_lingual_shift=scoring.default_cross_lingual_shift(model) if shift is None else shift,
            interest=self.interest_blend,
        )


def fitted_weights(path: Path) -> dict[str, float]:
    """`weight_<name>` -> value of a weights file written by `koble fit-weights`; ValueError if it is not one."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))["weights"]
        return {f"weight_{name}": float(value) for name, value in values.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"KOBLE_WEIGHTS_FILE {path}: not a weights file ({exc})") from exc


@lru_cache
def get_ranker_settings() -> RankerSettings:
    """The process-wide ranker settings, read once (entry points read them at start-up)."""
    return RankerSettings()
