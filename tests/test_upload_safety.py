"""Uploads never replace or lose an article silently, odd names are refused one by one, limits say what they are,
and temporary copies stay under the data dir (issue 21, findings 6, 9 and 12)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from qa.config import Config
from qa.interfaces.ui.files import clean_temp, save_uploads, temp_dir, upload_dir
from tests.conftest import _free_port, small_corpus

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]

BAKERY = "Bakery wins prize\n\nThe Elmsworth bakery won the bread prize for its rye loaf on Tuesday.\n"
BRIDGE = "Bridge opens\n\nThe new bridge over the Wend river opened to cyclists on Monday morning.\n"
MAX_FILES = 3


def _file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- finding 6: a same-named upload is added beside, replaced only when asked -------------------------
def test_a_different_file_under_a_stored_name_is_added_beside_it(tmp_path: Path) -> None:
    folder = upload_dir(tmp_path / "data")
    first = save_uploads([_file(tmp_path / "ann", "story.txt", BAKERY)], folder, max_mb=1, max_files=5)
    second = save_uploads([_file(tmp_path / "bob", "story.txt", BRIDGE)], folder, max_mb=1, max_files=5)
    assert [s.outcome for s in first.stored] == ["new"] and [s.outcome for s in second.stored] == ["beside"]
    assert second.stored[0].name == "story-2.txt" and "added beside it as story-2.txt" in second.stored[0].describe()
    assert (folder / "story.txt").read_text() == BAKERY and (folder / "story-2.txt").read_text() == BRIDGE


def test_a_path_in_the_name_does_not_collide_with_a_stored_file(tmp_path: Path) -> None:
    folder = upload_dir(tmp_path / "data")
    save_uploads([_file(tmp_path / "a", "story.txt", BAKERY)], folder, max_mb=1, max_files=5)
    upload = _file(tmp_path / "b", "upload-0", BRIDGE)
    accepted = save_uploads([upload], folder, max_mb=1, max_files=5, names=["../alice/story.txt"])
    assert accepted.stored[0].outcome == "beside" and accepted.stored[0].shown == "story.txt"
    assert (folder / "story.txt").read_text() == BAKERY and (folder / "story-2.txt").read_text() == BRIDGE


def test_the_same_file_again_is_unchanged_not_a_copy(tmp_path: Path) -> None:
    folder = upload_dir(tmp_path / "data")
    save_uploads([_file(tmp_path / "a", "story.txt", BAKERY)], folder, max_mb=1, max_files=5)
    save_uploads([_file(tmp_path / "b", "story.txt", BRIDGE)], folder, max_mb=1, max_files=5)
    again = save_uploads([_file(tmp_path / "c", "story.txt", BRIDGE)], folder, max_mb=1, max_files=5)
    assert [(s.outcome, s.name) for s in again.stored] == [("unchanged", "story-2.txt")]
    assert again.paths == [folder / "story-2.txt"]
    assert sorted(p.name for p in folder.iterdir()) == ["story-2.txt", "story.txt"]


def test_replace_only_when_asked_and_never_a_file_of_the_same_upload(tmp_path: Path) -> None:
    folder = upload_dir(tmp_path / "data")
    save_uploads([_file(tmp_path / "a", "story.txt", BAKERY)], folder, max_mb=1, max_files=5)
    replaced = save_uploads([_file(tmp_path / "b", "story.txt", BRIDGE)], folder, max_mb=1, max_files=5,
                            replace=True)
    assert [s.outcome for s in replaced.stored] == ["replaced"]
    assert (folder / "story.txt").read_text() == BRIDGE and not (folder / "story-2.txt").exists()
    twins = [_file(tmp_path / "c", "story.txt", BAKERY), _file(tmp_path / "d", "story.txt", "Third\n\nThird one.\n")]
    both = save_uploads(twins, folder, max_mb=1, max_files=5, replace=True)
    assert [s.outcome for s in both.stored] == ["replaced", "beside"]
    assert (folder / "story.txt").read_text() == BAKERY and (folder / "story-2.txt").read_text().startswith("Third")


def test_two_stories_under_one_name_are_both_answerable(tmp_path: Path) -> None:
    from qa.interfaces.ui.library import Library
    from qa.storage.collection import Collection

    collection = Collection(Config.load(env={}, data_dir=tmp_path / "data"))
    library = Library(collection, collection.config)
    first = library.add_files([_file(tmp_path / "a", "story.txt", BAKERY)])
    second = library.add_files([_file(tmp_path / "b", "story.txt", BRIDGE)])
    again = library.add_files([_file(tmp_path / "c", "story.txt", BRIDGE)])
    assert first.report is not None and first.report.added == ["Bakery wins prize"]
    assert second.report is not None and second.report.added == ["Bridge opens"] and not second.report.updated
    assert second.notes == ["story.txt: a different file has that name; this one was added beside it as story-2.txt"]
    assert again.report is not None and again.report.unchanged == ["Bridge opens"] and not again.report.added
    assert sorted(s.article.title for s in collection.store.articles()) == ["Bakery wins prize", "Bridge opens"]
    replaced = library.add_files([_file(tmp_path / "d", "story.txt", "Bakery closes\n\nThe bakery closed.\n")],
                                 replace=True)
    assert replaced.report is not None and replaced.report.updated == ["Bakery closes"]
    assert replaced.notes == ["story.txt: replaced the stored story.txt"]
    assert sorted(s.article.title for s in collection.store.articles()) == ["Bakery closes", "Bridge opens"]
    collection.close()


# --- the REST API: beside / replace / unchanged, odd names, the file limit, temp copies -------------
@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    """The app over the small corpus (no login, no reranker), at most MAX_FILES files an upload."""
    import app
    from qa.assistant import Assistant
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("upload-api")
    config = Config.load(env={"QA_MAX_UPLOAD_FILES": str(MAX_FILES), "QA_RERANKER_MODEL": "none"},
                         data_dir=root / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([small_corpus(root / "corpus")])
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=120) as client:
        yield client, config
    web.close()
    assistant.collection.close()


def _multipart(files: list[tuple[str, bytes]], extra: dict[str, str] | None = None) -> tuple[bytes, dict]:
    """A multipart body written by hand, so that a file name can hold bytes a client library would escape."""
    boundary = "qa-test-boundary-7f3a"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
             for key, value in (extra or {}).items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
              f"Content-Type: text/plain\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_api_adds_beside_replaces_when_asked_and_reports_which(api) -> None:
    client, config = api
    added = client.post("/api/articles", files=[("files", ("news.txt", BAKERY.encode(), "text/plain"))]).json()
    assert added["added"] == ["Bakery wins prize"] and added["stored"][0]["outcome"] == "new"
    beside = client.post("/api/articles", files=[("files", ("../alice/news.txt", BRIDGE.encode(), "text/plain"))])
    assert beside.status_code == 200 and beside.json()["added"] == ["Bridge opens"]
    assert beside.json()["stored"] == [{"file": "news.txt", "stored_as": "news-2.txt", "outcome": "beside"}]
    same = client.post("/api/articles", files=[("files", ("news.txt", BRIDGE.encode(), "text/plain"))]).json()
    assert same["unchanged"] == ["Bridge opens"] and same["stored"][0]["outcome"] == "unchanged"
    closed = b"Bakery shuts\n\nThe Elmsworth bakery shut its doors for good on Friday.\n"
    replaced = client.post("/api/articles", params={"replace": "true"},
                           files=[("files", ("news.txt", closed, "text/plain"))]).json()
    assert replaced["updated"] == ["Bakery shuts"] and replaced["stored"][0]["outcome"] == "replaced"
    assert replaced["notes"] == ["news.txt: replaced the stored news.txt"]
    bad = client.post("/api/articles", params={"replace": "perhaps"},
                      files=[("files", ("news.txt", closed, "text/plain"))])
    assert bad.status_code == 400 and "replace must be true or false" in bad.json()["error"]
    titles = {a["title"] for a in client.get("/api/articles", params={"limit": 100}).json()["articles"]}
    assert {"Bakery shuts", "Bridge opens"} <= titles and "Bakery wins prize" not in titles
    folder = upload_dir(config.data_dir)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("news")) == ["news-2.txt", "news.txt"]


@pytest.mark.parametrize("bad_name", ["evil\x00name.txt", "esc\x1b[31m.txt", "bell\x07.txt"])
def test_a_control_character_in_one_name_refuses_that_file_only(api, bad_name: str) -> None:
    client, _ = api
    code = next(ord(ch) for ch in bad_name if ord(ch) < 32)
    good = f"Harbour {code}\n\nThe harbour of Pellin reopened after storm repairs number {code}.\n"
    body, headers = _multipart([(bad_name, b"Evil\n\nA file under a hostile name.\n"),
                                (f"harbour-{code}.txt", good.encode())])
    response = client.post("/api/articles", content=body, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == [good.split("\n")[0]]
    assert len(report["rejected"]) == 1 and "control characters" in report["rejected"][0]["reason"]
    alone, headers = _multipart([(bad_name, b"Evil\n\nA file under a hostile name.\n")])
    refused = client.post("/api/articles", content=alone, headers=headers)
    assert refused.status_code == 400 and "control characters" in refused.json()["error"]


def test_too_many_files_names_the_real_limit(api) -> None:
    client, _ = api
    for count in (MAX_FILES + 1, MAX_FILES + 5):
        files = [("files", (f"many-{i}.txt", f"Many {i}\n\nText {i}.\n".encode(), "text/plain")) for i in range(count)]
        response = client.post("/api/articles", files=files)
        assert response.status_code == 400
        error = response.json()["error"]
        assert f"at most {MAX_FILES}" in error.lower() and str(MAX_FILES + 1) not in error, error


# --- finding 12: temporary copies live under the data dir and are cleaned at start -------------------
def test_api_uploads_are_copied_under_the_data_dir_and_cleaned(api) -> None:
    client, config = api
    response = client.post("/api/articles", files=[("files", ("temp-check.txt", b"Temp check\n\nA short text "
                                                              b"about the temp folder.\n", "text/plain"))])
    assert response.status_code == 200
    folder = temp_dir(config.data_dir)
    assert folder.is_relative_to(config.data_dir) and folder.is_dir() and not any(folder.iterdir())


def test_start_deletes_what_a_killed_server_left_and_keeps_a_running_ones(tmp_path: Path, monkeypatch) -> None:
    from qa.interfaces.ui.startup import prepare_temp

    data = tmp_path / "data"
    dead = data / "tmp" / "server-999999999" / "gradio" / "abc123"
    dead.mkdir(parents=True)
    (dead / "story.txt").write_text("half an upload")
    stray = data / "tmp" / "qa-api-leftover"
    stray.mkdir()
    alive = data / "tmp" / f"server-{os.getppid()}"
    alive.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "elsewhere"))  # restored after the test
    folder = prepare_temp(data)
    assert not dead.parent.parent.exists() and not stray.exists() and alive.is_dir()
    assert folder == temp_dir(data) and folder.is_dir()
    assert Path(os.environ["GRADIO_TEMP_DIR"]).is_relative_to(data)
    from qa.interfaces.ui.page import gradio_upload_folder

    assert Path(gradio_upload_folder()) == folder / "gradio"
    assert clean_temp(data) != [] and not folder.exists()  # at start: nothing of this process is there yet


def test_the_page_adds_beside_and_replaces_only_with_the_box_ticked(app_server, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    client = Client(app_server.url, verbose=False)
    first = _file(tmp_path / "a", "page-story.txt", "Ferry resumes\n\nThe Holm ferry resumed its crossings today.\n")
    second = _file(tmp_path / "b", "page-story.txt", "Mill restored\n\nThe old Brackton mill turns again.\n")
    report, *_ = client.predict([handle_file(first)], api_name="/add_files")
    assert "Added (1)" in report and "Ferry resumes" in report
    report, *_ = client.predict([handle_file(second)], False, api_name="/add_files")
    assert "added beside it as page-story-2.txt" in report and "Mill restored" in report
    report, *_ = client.predict([handle_file(second)], False, api_name="/add_files")
    assert "unchanged, the same file is already stored as page-story-2.txt" in report
    third = _file(tmp_path / "c", "page-story.txt", "Ferry halted\n\nThe Holm ferry halted its crossings again.\n")
    report, *_ = client.predict([handle_file(third)], True, api_name="/add_files")
    assert "replaced the stored page-story.txt" in report and "Updated (1)" in report
    titles = {s.article.title for s in app_server.assistant.collection.store.articles()}
    assert {"Ferry halted", "Mill restored"} <= titles and "Ferry resumes" not in titles
    for stored in app_server.assistant.collection.store.articles():
        if stored.article.title in ("Ferry halted", "Mill restored"):
            client.predict(stored.article.id, api_name="/remove_article")
