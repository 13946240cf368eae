"""Adding and removing articles from the page and the REST API alike: the same limits, reports, clean-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.config import Config
from qa.ingest.pipeline import Ingestor, IngestReport, ProgressCallback
from qa.interfaces.ui.files import (
    Stored,
    UploadTooLarge,
    discard_cached,
    save_uploads,
    temp_dir,
    upload_dir,
    write_pasted,
    write_record,
)
from qa.storage.collection import Collection

# Small embedding slices: questions asked during an upload wait for one slice (a fraction of a second), not
# for the whole upload.
EMBED_SLICE = 8


@dataclass
class Added:
    """What an upload did: the ingest report (None when nothing was accepted) and the refused files."""

    report: IngestReport | None
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (display name, reason)
    stored: list[Stored] = field(default_factory=list)  # where each accepted file went (beside, replaced...)

    @property
    def notes(self) -> list[str]:
        """Files stored under another name, replacing another, or found unchanged: one line each."""
        return [s.describe() for s in self.stored if s.outcome != "new"]


class Library:
    """The collection's articles as the page and the API change them."""

    def __init__(self, collection: Collection, config: Config) -> None:
        self.collection = collection
        self.config = config

    @property
    def uploads(self) -> Path:
        """The folder uploads are stored in (under the data dir)."""
        return upload_dir(self.config.data_dir)

    @property
    def temp(self) -> Path:
        """This process's folder for temporary upload copies (under the data dir, cleaned at start)."""
        return temp_dir(self.config.data_dir)

    def add_files(self, files: Sequence[str | Path], progress: ProgressCallback | None = None,
                  cache_dir: str | Path | None = None, names: Sequence[str] | None = None,
                  replace: bool = False) -> Added:
        """Saves uploaded files under the data dir and ingests them; ``cache_dir`` is the web framework's
        temp folder, whose copies are deleted once saved. ``names`` are the client's file names (default: the
        files' own); a different file under a stored name is added beside it unless ``replace`` is asked.
        UploadError when the whole upload is refused, UploadTooLarge when every file was over the size limit."""
        try:
            accepted = save_uploads(list(files), self.uploads, self.config.max_upload_mb,
                                    self.config.max_upload_files, names, replace)
        finally:
            if cache_dir is not None:
                discard_cached(list(files), cache_dir)
        if not accepted.paths and accepted.rejected and accepted.oversize == len(accepted.rejected):
            raise UploadTooLarge("; ".join(f"{name}: {reason}" for name, reason in accepted.rejected))
        report = self.ingest(accepted.paths, progress) if accepted.paths else None
        return Added(report, accepted.rejected, accepted.stored)

    def add_text(self, title: str, text: str, progress: ProgressCallback | None = None) -> IngestReport:
        """Ingests a pasted article (title and text)."""
        return self.ingest([write_pasted(title, text, self.uploads, self.config.max_upload_mb)], progress)

    def add_record(self, title: str, text: str, date: str | None = None, source: str | None = None,
                   url: str | None = None) -> IngestReport:
        """Ingests an article sent as JSON, with its optional date, source and link."""
        path = write_record(title, text, self.uploads, self.config.max_upload_mb, date, source, url)
        return self.ingest([path])

    def ingest(self, paths: list[Path], progress: ProgressCallback | None = None) -> IngestReport:
        """Ingests saved uploads; one that could not be read is reported, then deleted."""
        try:
            return Ingestor(self.collection, embed_batch_chunks=EMBED_SLICE,
                            commit_every=self.config.upload_commit_chunks).ingest(paths, progress=progress)
        finally:
            indexed = set(self.collection.store.file_paths())
            for path in paths:
                if str(path.resolve()) not in indexed:
                    path.unlink(missing_ok=True)

    def remove(self, article_id: str) -> list[str]:
        """Removes one article by id; KeyError when there is none (ids only: no paths from clients)."""
        if self.collection.store.article(article_id) is None:
            raise KeyError(article_id)
        return Ingestor(self.collection).remove(article_id, ids_only=True)  # never a path, even in a race
