"""How long cleaning an uploaded picture takes, and how big the stored result is (service/profiles/photos.py).

    PYTHONPATH=. python bench/photos.py

Pictures made here: a noisy 12 MP camera JPEG just under 2 MB, a 1,000 px PNG logo, a 2,000 px WebP, and
a 20,000 x 20,000 PNG bomb (a 100-byte header): the median of 5 runs each.
"""

from __future__ import annotations

import io
import statistics
import struct
import time
import zlib

import numpy as np
from PIL import Image

from service.profiles import photos


def camera_jpeg() -> bytes:
    """A 4,000 x 3,000 photo-like JPEG (smooth gradient plus noise), at the quality that keeps it under 2 MB."""
    y, x = np.mgrid[0:3000, 0:4000]
    base = np.stack([x * 255 // 4000, y * 255 // 3000, (x + y) * 255 // 7000], axis=-1)
    noise = np.random.default_rng(1).integers(-40, 40, size=base.shape)
    image = Image.fromarray(np.clip(base + noise, 0, 255).astype("uint8"))
    for quality in (90, 80, 70, 60, 45, 30):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= photos.MAX_BYTES:
            return out.getvalue()
    raise SystemExit("could not make a camera JPEG under 2 MB")


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (15, 118, 110, 255) if mode == "RGBA" else (200, 60, 30)).save(out, fmt)
    return out.getvalue()


def bomb() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def timed(data: bytes) -> tuple[float, str]:
    runs, result = [], ""
    for _ in range(5):
        start = time.perf_counter()
        try:
            photo = photos.clean(data)
            result = f"{photo.width}x{photo.height}, {len(photo.content) / 1024:.1f} KiB WebP"
        except photos.PhotoProblem as problem:
            result = f"refused: {problem.code}"
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1000, result


def main() -> None:
    """Print one line per picture: upload size, median time, result."""
    cases = {
        "camera JPEG 4000x3000": camera_jpeg(),
        "logo PNG 1000x700 RGBA": encoded("PNG", (1000, 700), "RGBA"),
        "WebP 2000x1500": encoded("WEBP", (2000, 1500)),
        "bomb PNG 20000x20000": bomb(),
    }
    for name, data in cases.items():
        ms, result = timed(data)
        print(f"{name:24} {len(data) / 1024:8.1f} KiB upload  {ms:7.1f} ms  {result}")


if __name__ == "__main__":
    main()
