"""Photos and logos (service/profiles/photos.py): formats, EXIF stripped, resized, and every bad file refused."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from service.profiles import photos
from service.profiles.photos import PhotoProblem


def picture(fmt: str, size: tuple[int, int] = (1200, 800), mode: str = "RGB", exif: bool = False) -> bytes:
    """An image file in `fmt`, optionally with EXIF holding a GPS position and a camera model."""
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 120))
    out = io.BytesIO()
    options = {}
    if exif:
        tags = Image.Exif()
        tags[0x0110] = "Secret Camera 3000"  # Model
        tags[0x8825] = {1: "N", 2: (60.0, 47.0, 0.0)}  # GPSInfo: Gjøvik
        tags[0x0112] = 6  # Orientation: rotate 90° clockwise to view
        options["exif"] = tags.tobytes()
    image.save(out, fmt, **options)
    return out.getvalue()


def opened(photo: photos.Photo) -> Image.Image:
    image = Image.open(io.BytesIO(photo.content))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_each_accepted_format_becomes_a_256_px_webp(fmt: str) -> None:
    photo = photos.clean(picture(fmt))
    image = opened(photo)
    assert image.format == "WEBP" and photo.content_type == "image/webp"
    assert (image.width, image.height) == (photo.width, photo.height) == (256, 171)  # aspect kept, long side 256
    assert len(photo.key) == 16 and photo.key == photos.clean(picture(fmt)).key  # same picture, same URL


def test_exif_and_gps_are_gone_and_the_picture_turned_upright() -> None:
    upload = picture("JPEG", size=(600, 300), exif=True)
    assert Image.open(io.BytesIO(upload)).getexif()  # the upload does carry EXIF
    image = opened(photos.clean(upload))
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"Secret Camera" not in photos.clean(upload).content
    assert (image.width, image.height) == (128, 256)  # orientation 6 applied before the tag was dropped


def test_a_transparent_logo_keeps_its_transparency() -> None:
    image = opened(photos.clean(picture("PNG", size=(300, 300), mode="RGBA")))
    pixel = image.getpixel((10, 10))
    assert image.mode == "RGBA" and isinstance(pixel, tuple) and pixel[3] == 120


def test_small_pictures_are_not_enlarged() -> None:
    photo = photos.clean(picture("PNG", size=(64, 40)))
    assert (photo.width, photo.height) == (64, 40)


def test_other_image_formats_are_refused_by_name() -> None:
    with pytest.raises(PhotoProblem) as problem:
        photos.clean(picture("GIF"))
    assert problem.value.code == "wrong_format"


@pytest.mark.parametrize("data", [b"%PDF-1.7 not an image at all", b"<svg xmlns='http://www.w3.org/2000/svg'/>"])
def test_files_that_are_not_pictures_are_refused(data: bytes) -> None:
    with pytest.raises(PhotoProblem) as problem:
        photos.clean(data)
    assert problem.value.code == "not_image"


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(PhotoProblem) as problem:
        photos.clean(b"")
    assert problem.value.code == "empty"


def test_a_file_over_2_mb_is_refused_before_decoding() -> None:
    with pytest.raises(PhotoProblem) as problem:
        photos.clean(picture("PNG", size=(10, 10)) + b"\0" * photos.MAX_BYTES)
    assert problem.value.code == "too_big"


def test_a_truncated_file_is_refused() -> None:
    whole = picture("JPEG", size=(800, 800))
    with pytest.raises(PhotoProblem) as problem:
        photos.clean(whole[: len(whole) // 3])
    assert problem.value.code == "broken"


def bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb: the data never follows)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize("size", [(20_000, 20_000), (8_000, 6_000)])
def test_a_decompression_bomb_is_refused_before_decoding(size: tuple[int, int]) -> None:
    data = bomb(*size)
    assert len(data) < 200
    with pytest.raises(PhotoProblem) as problem:
        photos.clean(data)
    assert problem.value.code == "too_many_pixels"
