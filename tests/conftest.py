"""Shared fixtures. Core fixtures build small real collections (real model, FAISS, SQLite) in tmp dirs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa.answering.features import FEATURES
from qa.answering.scorer import AnswerScorer, ScorerWeights

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "japantoday-2026-01-30-japan-south-korea-defense.txt"
SEED_TITLE = "Japan, South Korea agree to boost exchanges between defense personnel"


# --- core fixtures -----------------------------------------------------------------------------
def rule_scorer(failed_check: float = -20.0, sure_kind: float = 1.0, behind_best: float = 0.0,
                off_point: float = 1.0) -> AnswerScorer:
    """A scorer with weights set by hand, for tests of the answering mechanics (the fitted weights change with
    each fit): log-odds = the model score + 3 (so the threshold, probability 0.5, sits at a score of -3),
    ``failed_check`` for each failed check, ``sure_kind`` for a span of exactly the asked kind; it abstains
    when the best candidate is more than ``off_point`` behind the best-rated sentence."""
    coef = dict.fromkeys(FEATURES, 0.0)
    coef.update(model_score=1.0, behind_best=behind_best, year_conflict=failed_check, outcome_unstated=failed_check,
                kind_missing=failed_check, kind_sure=sure_kind)
    weights = ScorerWeights(FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES),
                            tuple(coef[name] for name in FEATURES), 3.0, 0.5, off_point, "tests")
    return AnswerScorer(weights)


def small_corpus(folder: Path) -> Path:
    """The seed article plus three short JSONL articles from two sources; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    records = [
        {"id": "bakery", "title": "Village bakery wins national bread prize", "date": "2024-05-02",
         "source": "Daily Loaf", "url": "https://example.org/bakery",
         "text": "A small bakery in the village of Elmsworth won the national bread prize on Tuesday. "
                 "The judges praised its sourdough rye, which is baked in a wood-fired oven. "
                 "Owner Maria Keller said the recipe came from her grandmother."},
        {"id": "comet", "title": "Amateur astronomer spots new comet", "date": "2025-11-20",
         "source": "Sky Weekly", "url": "https://example.org/comet",
         "text": "An amateur astronomer in Chile spotted a new comet using a backyard telescope. "
                 "The comet, named C/2025 K3, will be visible to the naked eye in March. "
                 "Observatories confirmed the discovery within two days."},
        {"id": "bridge", "title": "City opens cable-stayed bridge over river", "date": "2025-12-01",
         "source": "Daily Loaf", "url": "https://example.org/bridge",
         "text": "The city opened a new cable-stayed bridge over the Wend river on Monday. "
                 "The bridge cost 240 million euros and took four years to build. "
                 "Cyclists get a separate lane on the upper deck."},
    ]
    (folder / "extra.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def config(tmp_path: Path):
    """A config whose data dir is fresh for each test."""
    from qa.config import Config

    return Config.load(env={}, data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def built_collection(tmp_path_factory: pytest.TempPathFactory):
    """A collection of :func:`small_corpus`, built once per session; tests must not change it."""
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor
    from qa.storage.collection import Collection

    root = tmp_path_factory.mktemp("built")
    config = Config.load(env={}, data_dir=root / "data")
    corpus = small_corpus(root / "corpus")
    collection = Collection(config)
    Ingestor(collection).ingest([corpus])
    yield collection
    collection.close()


def assistant_over(records: list[dict], root: Path):
    """An Assistant over a fresh collection of the JSONL ``records``, built under ``root``."""
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    corpus = root / "articles.jsonl"
    corpus.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assistant = Assistant(Config.load(env={}, data_dir=root / "data"))
    Ingestor(assistant.collection).ingest([corpus])
    return assistant


@pytest.fixture(scope="session")
def assistant(built_collection):
    """An Assistant over the built collection (reranker on)."""
    from qa.assistant import Assistant

    return Assistant(built_collection.config)


# --- app fixtures (app.py; used by tests/test_app.py and tests/test_browser.py) -----------------
XSS_MARKUP = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
XSS_TITLE = f"Zebra parade fills Quillton streets {XSS_MARKUP}"


def app_corpus(folder: Path) -> Path:
    """:func:`small_corpus` plus an article whose title, text, source, url and licence are hostile."""
    small_corpus(folder)
    hostile = {
        "id": "xss-zebra", "title": XSS_TITLE, "date": "2025-06-01", "source": "<b>Evil</b> Gazette",
        "url": "javascript:alert(1)", "license": '<a href="javascript:alert(1)">CC</a>',
        "text": f"The annual zebra parade filled the streets of Quillton on Saturday {XSS_MARKUP}. "
                "Organisers counted 312 painted zebras, a record for the parade. "
                f"Mayor Ilse Brandt opened the parade with a brass band {XSS_MARKUP}.",
    }
    (folder / "hostile.jsonl").write_text(json.dumps(hostile) + "\n", encoding="utf-8")
    return folder


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory):
    """The Gradio app over :func:`app_corpus`, launched once per session on a free 127.0.0.1 port.

    Yields a namespace with ``url``, ``config``, ``assistant`` and ``demo``. Tests may add articles but
    must leave the corpus's own articles alone.
    """
    from types import SimpleNamespace

    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("app")
    config = Config.load(env={}, data_dir=root / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([app_corpus(root / "corpus")])
    _ = assistant.reranker  # load the cross-encoder now rather than in the first test
    demo = app.build_app(assistant, config)
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{config.port}/", config=config, assistant=assistant, demo=demo)
    finally:
        demo.close()
        assistant.collection.close()
