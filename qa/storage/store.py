"""SQLite metadata: articles, chunks, source files and index settings, changed in transactions."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qa.storage.keyword_index import KeywordDoc
from qa.types import Article, Chunk, Passage, titled_text

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL, source_path TEXT NOT NULL,
    date TEXT, source TEXT, url TEXT, author TEXT, dateline TEXT, license TEXT,
    content_hash TEXT NOT NULL, text_hash TEXT NOT NULL, added_at TEXT NOT NULL DEFAULT (datetime('now')));
CREATE INDEX IF NOT EXISTS articles_text_hash ON articles(text_hash);
CREATE INDEX IF NOT EXISTS articles_source_path ON articles(source_path);
CREATE TABLE IF NOT EXISTS chunks (
    vector_id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
"""

_ARTICLE_COLUMNS = "id, title, text, source_path, date, source, url, author, dateline, license"
_FACET_ROWS = ("SELECT c.vector_id, a.date, a.source FROM chunks c JOIN articles a ON a.id = c.article_id"
               " ORDER BY c.vector_id")


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes, read a megabyte at a time (an unchanged file is known without parsing it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def text_hash(text: str) -> str:
    """Hash of an article body with whitespace folded: the same story under two paths is one article."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredArticle:
    """An article row plus the bookkeeping the ingest needs."""

    article: Article
    content_hash: str
    chunks: int


@dataclass(frozen=True)
class FileRecord:
    """What a source file looked like when it was last ingested."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


class MetadataStore:
    """One SQLite database (WAL mode) shared by the threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.RLock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)  # idempotent; executescript commits by itself
            self._db.execute("SELECT COUNT(*) FROM meta").fetchone()  # a damaged file fails here, not later
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise sqlite3.DatabaseError(f"{path}: {error}") from error

    def close(self) -> None:
        """Closes the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[StoreWriter]:
        """A writer whose changes all commit together when the block ends, or none do if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield StoreWriter(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def integrity_problems(self) -> list[str]:
        """SQLite's own consistency check (``PRAGMA quick_check``; it reads the whole file, so only `qa check`
        runs it); empty when the database is sound."""
        rows = [r[0] for r in self._query("PRAGMA quick_check")]
        return [] if rows == ["ok"] else [f"{self.path}: {row}" for row in rows]

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- reading --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """A stored setting, or None."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def file_record(self, path: str) -> FileRecord | None:
        """The record of a previously ingested file."""
        rows = self._query("SELECT path, size, mtime_ns, sha256 FROM files WHERE path = ?", (path,))
        return FileRecord(*rows[0]) if rows else None

    def file_paths(self) -> list[str]:
        """Every source path that articles came from."""
        return [r[0] for r in self._query("SELECT path FROM files UNION SELECT source_path FROM articles")]

    def articles_from(self, source_path: str) -> dict[str, str]:
        """``{article id: content hash}`` of the articles read from one file."""
        return dict(self._query("SELECT id, content_hash FROM articles WHERE source_path = ?", (source_path,)))

    def titles_from(self, source_path: str) -> list[str]:
        """Titles of the articles read from one file (without loading their texts)."""
        return [r[0] for r in self._query("SELECT title FROM articles WHERE source_path = ?", (source_path,))]

    def article_ids_with_text(self, hashed_text: str) -> list[str]:
        """Ids of stored articles whose body hashes to ``hashed_text``."""
        return [r[0] for r in self._query("SELECT id FROM articles WHERE text_hash = ?", (hashed_text,))]

    def article(self, article_id: str) -> Article | None:
        """One stored article."""
        rows = self._query(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        return Article(*rows[0]) if rows else None

    def article_count(self) -> int:
        """How many articles are stored."""
        return int(self._query("SELECT COUNT(*) FROM articles")[0][0])

    def article_page(self, offset: int, limit: int) -> list[StoredArticle]:
        """``limit`` articles from ``offset``, newest first, with chunk counts; their ``text`` is not read
        (left empty), so a page costs the same however long the articles are."""
        columns = ", ".join("''" if c.strip() == "text" else "a." + c.strip() for c in _ARTICLE_COLUMNS.split(","))
        rows = self._query(
            f"SELECT {columns}, a.content_hash, (SELECT COUNT(*) FROM chunks c WHERE c.article_id = a.id)"
            " FROM articles a ORDER BY a.date DESC, a.title, a.id LIMIT ? OFFSET ?", (limit, offset))
        return [StoredArticle(Article(*r[:10]), r[10], r[11]) for r in rows]

    def articles(self) -> list[StoredArticle]:
        """Every stored article with its chunk count, newest first."""
        rows = self._query(
            f"SELECT {', '.join('a.' + c.strip() for c in _ARTICLE_COLUMNS.split(','))}, a.content_hash,"
            " (SELECT COUNT(*) FROM chunks c WHERE c.article_id = a.id)"
            " FROM articles a ORDER BY a.date DESC, a.title")
        return [StoredArticle(Article(*r[:10]), r[10], r[11]) for r in rows]

    def vector_ids_of(self, article_ids: Sequence[str]) -> list[int]:
        """Vector ids of every chunk of the given articles."""
        ids: list[int] = []
        for i in range(0, len(article_ids), 500):
            part = article_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            ids += [r[0] for r in self._query(f"SELECT vector_id FROM chunks WHERE article_id IN ({marks})", part)]
        return ids

    def next_vector_id(self) -> int:
        """The smallest id above every id ever handed out (ids are never reused)."""
        stored = self.get_meta("next_vector_id")
        top = self._query("SELECT COALESCE(MAX(vector_id), 0) + 1 FROM chunks")[0][0]
        return max(int(stored or 1), int(top))

    def all_vector_ids(self) -> list[int]:
        """Every chunk's vector id."""
        return [r[0] for r in self._query("SELECT vector_id FROM chunks")]

    def facet_rows(self) -> list[tuple[int, str | None, str | None]]:
        """``(vector id, date, source)`` of every chunk, ascending by id (for :class:`qa.storage.facets.Facets`)."""
        return self._query(_FACET_ROWS)

    def keyword_docs(self) -> Iterator[KeywordDoc]:
        """Every chunk as the keyword index stores it, read in batches (to rebuild that index)."""
        last = -1
        while True:
            rows = self._query("SELECT c.vector_id, a.title, c.text, a.date, a.source FROM chunks c JOIN articles a"
                               " ON a.id = c.article_id WHERE c.vector_id > ? ORDER BY c.vector_id LIMIT 5000",
                               (last,))
            if not rows:
                return
            yield from (KeywordDoc(r[0], titled_text(r[1], r[2]), r[3], r[4]) for r in rows)
            last = rows[-1][0]

    def passages(self, scored: Sequence[tuple[int, float]]) -> list[Passage]:
        """Passages for ``(vector id, score)`` pairs, in the given order; ids no longer stored are dropped."""
        if not scored:
            return []
        marks = ",".join("?" * len(scored))
        rows = self._query(
            "SELECT c.vector_id, c.chunk_id, c.article_id, a.title, c.text, c.start, c.end, a.date, a.source, a.url"
            f" FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.vector_id IN ({marks})",
            [vid for vid, _ in scored])
        by_id = {r[0]: r for r in rows}
        return [Passage(chunk_id=r[1], article_id=r[2], title=r[3], text=r[4], start=r[5], end=r[6],
                        score=score, date=r[7], source=r[8], url=r[9])
                for vid, score in scored if (r := by_id.get(vid)) is not None]

    def chunks_of(self, article_id: str) -> list[Chunk]:
        """The chunks of one article in order."""
        rows = self._query("SELECT article_id, position, start, end, text FROM chunks WHERE article_id = ?"
                           " ORDER BY position", (article_id,))
        return [Chunk(*r) for r in rows]

    def counts(self) -> tuple[int, int, str | None, str | None, list[str]]:
        """``(articles, chunks, earliest date, latest date, sources)``."""
        articles, first, last = self._query("SELECT COUNT(*), MIN(date), MAX(date) FROM articles")[0]
        chunks = self._query("SELECT COUNT(*) FROM chunks")[0][0]
        sources = [r[0] for r in self._query(
            "SELECT DISTINCT source FROM articles WHERE source IS NOT NULL ORDER BY source")]
        return articles, chunks, first, last, sources


class StoreWriter:
    """The writes of one transaction (:meth:`MetadataStore.transaction`)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def set_meta(self, key: str, value: str) -> None:
        """Stores a setting."""
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def put_file(self, record: FileRecord) -> None:
        """Remembers a file's size, mtime and hash."""
        self._db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                         (record.path, record.size, record.mtime_ns, record.sha256))

    def delete_file(self, path: str) -> None:
        """Forgets a file."""
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))

    def put_article(self, article: Article, chunks: Sequence[Chunk], vector_ids: Sequence[int]) -> None:
        """Inserts an article and its chunks."""
        self._db.execute(
            f"INSERT INTO articles({_ARTICLE_COLUMNS}, content_hash, text_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (article.id, article.title, article.text, article.source_path, article.date, article.source,
             article.url, article.author, article.dateline, article.license, article.content_hash,
             text_hash(article.text)))
        self._db.executemany(
            "INSERT INTO chunks(vector_id, chunk_id, article_id, position, start, end, text) VALUES (?,?,?,?,?,?,?)",
            [(vid, c.id, c.article_id, c.position, c.start, c.end, c.text) for vid, c in zip(vector_ids, chunks)])

    def delete_article(self, article_id: str) -> None:
        """Deletes an article and (by cascade) its chunks."""
        self._db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
