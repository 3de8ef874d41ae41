"""Photos and logos: check an upload and make a clean 256 px WebP of it with Pillow (no EXIF, GPS or ICC left)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 2 * 1024 * 1024
SIZE = 256
ACCEPTED = ("JPEG", "PNG", "WEBP")
CONTENT_TYPE = "image/webp"
# Decoded pixels we agree to hold: 40 MP is a 7,300 x 5,500 camera photo (~160 MB as RGBA). A 2 MB
# "decompression bomb" PNG can claim 20,000 x 20,000 (400 MP, 1.6 GB) and is refused before decoding.
MAX_PIXELS = 40_000_000
# WebP at quality 85: bench/photos.py's pictures store as 0.2-1.2 KiB at 256 px (the table allows 1 MiB).
QUALITY = 85


class PhotoProblem(ValueError):
    """Why an upload is not taken; `code` picks the message the page shows (profiles.pages.PHOTO_ERRORS)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"photo: {code}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Photo:
    """A cleaned picture, ready to store and serve as it is."""

    content: bytes
    content_type: str
    width: int
    height: int

    @property
    def key(self) -> str:
        """The version in the picture's URL: 16 hex digits of its SHA-256 (a new picture, a new URL)."""
        return hashlib.sha256(self.content).hexdigest()[:16]


def clean(data: bytes) -> Photo:
    """A JPEG, PNG or WebP of at most 2 MB, turned upright, shrunk to fit 256 px and re-encoded without metadata."""
    if not data:
        raise PhotoProblem("empty")
    if len(data) > MAX_BYTES:
        raise PhotoProblem("too_big", f"{len(data)} bytes")
    image = _open(data)
    picture = _stripped(_decoded(image))
    picture.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=QUALITY, method=4)
    return Photo(out.getvalue(), CONTENT_TYPE, picture.width, picture.height)


def _open(data: bytes) -> Image.Image:
    """The image's header read (nothing decoded yet); wrong formats and bombs refused here."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED)
        except UnidentifiedImageError:
            raise PhotoProblem(_other_format(data) or "not_image") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PhotoProblem("too_many_pixels") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoProblem("broken", type(exc).__name__) from None
    if image.width * image.height > MAX_PIXELS:
        raise PhotoProblem("too_many_pixels", f"{image.width}x{image.height}")
    return image


def _other_format(data: bytes) -> str | None:
    """'wrong_format' when Pillow knows the file as another image format (GIF, BMP, TIFF ...)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.open(io.BytesIO(data))
    except Exception:
        return None
    return "wrong_format"


def _decoded(image: Image.Image) -> Image.Image:
    """The pixels, turned as the camera's orientation tag says; a truncated or corrupt file is refused."""
    try:
        # A JPEG decodes at 1/2-1/8 scale when that still covers 256 px: a 12 MP photo in a fraction of
        # the time and memory (bench/photos.py). Other formats ignore it.
        image.draft("RGB", (SIZE, SIZE))
        image.load()
        upright = ImageOps.exif_transpose(image) or image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoProblem("broken", type(exc).__name__) from None
    mode = "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
    return upright.convert(mode)


def _stripped(image: Image.Image) -> Image.Image:
    """A new image of the same pixels only: EXIF (GPS, camera, dates), XMP, ICC and comments stay behind."""
    return Image.frombytes(image.mode, image.size, image.tobytes())
