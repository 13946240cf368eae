"""Security checks: login on every route, upload names, no unsafe deserialisation, escaped reports.

One small app (the seed article, login ``user:secret``) is launched for this module on a free 127.0.0.1
port; the other tests need no server.
"""

from __future__ import annotations

import ast
import html
import http.client
import json
import os
import re
import urllib.parse
from email.message import Message
from pathlib import Path

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from conftest import ROOT, SEED, SEED_TITLE, _free_port

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]

USER, PASSWORD = "user", "secret"
SEED_QUESTION = "Who hosted South Korean President Lee Jae Myung?"
HOSTILE = "<img src=x onerror=alert(1)>.txt"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- the app with a login ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory):
    """The app over the seed article with ``QA_AUTH=user:secret`` (reranker off: fast to start)."""
    from types import SimpleNamespace

    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("secured")
    config = Config.load(env={"QA_AUTH": f"{USER}:{PASSWORD}"}, data_dir=root / "data", host="127.0.0.1",
                         port=_free_port(), reranker_model="none")
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([SEED])
    demo = app.build_app(assistant, config)
    demo.launch(prevent_thread_lock=True, quiet=True)
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{config.port}", config=config, demo=demo)
    finally:
        demo.close()
        assistant.collection.close()


def fetch(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
          method: str | None = None) -> tuple[int, Message, bytes]:
    """(status, headers, body) of one request without cookies; redirects are not followed.

    A streamed body (an open event stream) is read for a few seconds only.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=4)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method or ("POST" if data is not None else "GET"), target, body=data,
                           headers=headers or {})
        response = connection.getresponse()
        body = b""
        try:
            while chunk := response.read1(65536):
                body += chunk
        except TimeoutError:
            pass
        return response.status, response.headers, body
    finally:
        connection.close()


def login(secured, user: str, password: str) -> tuple[int, Message, bytes]:
    form = urllib.parse.urlencode({"username": user, "password": password}).encode()
    return fetch(f"{secured.url}/login", data=form,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})


def leaks_app(body: bytes) -> list[str]:
    """App config or data found in a response body (empty when none)."""
    text = body.decode("utf-8", "replace")
    marks = ["Japan Today", SEED_TITLE, html.escape(SEED_TITLE), "japantoday-2026", "Lee Jae Myung",
             "qa-header", "qa-card", "add_text", "remove_article", "named_endpoints\":{\"", '"components":[{']
    return [mark for mark in marks if mark in text]


def is_refused(status: int, headers: Message, body: bytes) -> bool:
    """401/403, or a redirect to / the login page itself."""
    if status in (401, 403):
        return True
    if status in (301, 302, 303, 307, 308):
        return "login" in headers.get("Location", "") or headers.get("Location", "").rstrip("/") in ("", ".")
    return status == 200 and b'"auth_required":true' in body


PROTECTED = [
    ("GET", "/config", None), ("GET", "/config/", None), ("GET", "/gradio_api/info", None),
    ("GET", "/gradio_api/info?all_endpoints=true", None), ("GET", "/gradio_api/openapi.json", None),
    ("POST", "/gradio_api/queue/join", json.dumps({"data": [SEED_QUESTION, False, [], "", ""], "fn_index": 0,
                                                   "session_hash": "abc123", "event_data": None}).encode()),
    ("GET", "/gradio_api/queue/data?session_hash=abc123", None),
    ("POST", "/gradio_api/upload", b"--xx\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\""
                                   b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xx--\r\n"),
    ("GET", f"/gradio_api/file={SEED}", None), ("GET", "/gradio_api/file=seeds/wikinews_gum.jsonl", None),
    ("POST", "/gradio_api/call/ask", json.dumps({"data": [SEED_QUESTION, False, [], "", ""]}).encode()),
    ("POST", "/gradio_api/run/ask", json.dumps({"data": [SEED_QUESTION, False, [], "", ""]}).encode()),
    ("GET", "/gradio_api/runs", None), ("GET", "/gradio_api/app_id", None), ("GET", "/gradio_api/token", None),
    ("GET", "/gradio_api/heartbeat/abc123", None), ("POST", "/gradio_api/cancel", b"{}"),
    ("GET", "/gradio_api/upload_progress?upload_id=x", None), ("GET", "/gradio_api/queue/status", None),
    ("GET", "/gradio_api/deep_link?session_hash=abc123", None), ("GET", "/monitoring", None),
    ("GET", "/gradio_api/mcp/schema", None), ("GET", "/docs", None), ("GET", "/openapi.json", None),
]


@pytest.mark.parametrize(("method", "path", "data"), PROTECTED, ids=[f"{m} {p[:40]}" for m, p, _ in PROTECTED])
def test_routes_refuse_anonymous_requests(secured, method: str, path: str, data: bytes | None):
    headers = {"Content-Type": "multipart/form-data; boundary=xx" if path.endswith("upload")
               else "application/json"} if data is not None else {}
    status, response_headers, body = fetch(secured.url + path, data=data, headers=headers, method=method)
    assert is_refused(status, response_headers, body), (status, body[:200])
    assert not leaks_app(body), (path, leaks_app(body))


def test_page_without_login_is_the_login_shell_only(secured):
    for path in ("/", "/?page=&deep_link=x"):
        status, _, body = fetch(secured.url + path)
        assert status == 200 and b'"auth_required":true' in body
        assert not leaks_app(body), leaks_app(body)  # Gradio itself embeds the API description here
        assert b'window.gradio_api_info = {"named_endpoints":{},"unnamed_endpoints":{}}' in body
        assert b"Sign in to ask questions" in body


def test_static_routes_serve_only_gradios_own_files(secured):
    """The login page needs Gradio's front-end files; they hold no app config or data and no other files."""
    status, _, page = fetch(secured.url + "/")
    asset = re.search(rb'src="\./(assets/[^"]+\.js)"', page).group(1).decode()
    for path in (f"/{asset}", "/static/img/logo_nosize.svg", "/theme.css", "/favicon.ico"):
        status, _, body = fetch(secured.url + path)
        assert status == 200 and not leaks_app(body), (path, leaks_app(body))
    for path in ("/static/../../../../etc/passwd", "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
                 "/assets/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", f"/static/{SEED}", "/svelte/..%2f..%2fapp.py"):
        status, _, body = fetch(secured.url + path)
        assert status in (400, 401, 403, 404), (path, status)
        assert b"root:" not in body and b"Prime Minister" not in body


def test_gradio_client_needs_the_login(secured):
    from gradio_client import Client

    with pytest.raises(Exception, match=r"(?i)login|auth|credential|401"):
        Client(secured.url + "/", verbose=False)
    with pytest.raises(Exception, match=r"(?i)login|auth|credential|incorrect|400"):
        Client(secured.url + "/", auth=(USER, "wrong"), verbose=False)
    c = Client(secured.url + "/", auth=(USER, PASSWORD), verbose=False)
    chat, panel, _ = c.predict(SEED_QUESTION, False, [], "", "", "", api_name="/ask")
    answer = json.dumps(chat[-1]["content"])
    assert "Takaichi" in answer and html.escape(SEED_TITLE) in panel


def test_login_form_accepts_only_the_right_password(secured):
    status, headers, body = login(secured, USER, PASSWORD)
    assert status == 200 and json.loads(body) == {"success": True}
    cookies = [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [] if c.startswith("access-token")]
    assert cookies
    status, _, body = fetch(secured.url + "/config", headers={"Cookie": "; ".join(cookies)})
    assert status == 200 and "Japan Today" in body.decode()  # the session works
    for user, password in ((USER, "wrong"), ("admin", PASSWORD), (USER, ""), ("", "")):
        status, headers, body = login(secured, user, password)
        assert status in (400, 401, 403, 422) and "access-token" not in str(headers), (user, password, status)
    forged = "access-token-x=abc; access-token-unsecure-x=abc"
    status, _, body = fetch(secured.url + "/config", headers={"Cookie": forged})
    assert status == 401 and not leaks_app(body)


def test_login_turns_every_route_private_only_when_configured():
    import app
    from qa.config import Config

    def middleware(kwargs: dict) -> list[str]:
        return [m.cls.__name__ for m in kwargs["app_kwargs"]["middleware"]]

    open_kwargs = app.launch_kwargs(Config.load(env={}))
    assert open_kwargs["auth"] is None and middleware(open_kwargs) == ["BodyLimit"]  # bodies are bounded anyway
    kwargs = app.launch_kwargs(Config.load(env={"QA_AUTH": "ann:pw"}))
    assert kwargs["auth"] == [("ann", "pw")] and middleware(kwargs) == ["BodyLimit", "RealClient", "LoginRequired"]


# --- upload names ------------------------------------------------------------------------------------------
HOSTILE_NAMES = ["../../etc/passwd.txt", "/abs/path.txt", "..\\..\\win.txt", "evil\x00name.txt", "line\nbreak.txt",
                 "<script>alert(1)</script>.txt", HOSTILE, "a" * 300 + ".txt", ".hidden.txt", "....txt",
                 "..", "C:\\Windows\\system32\\evil.md", "name.txt\x00.exe", "\u202etxt.exe", "con.txt",
                 "%2e%2e%2fescape.txt", "~/.ssh/authorized_keys.txt"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_safe_filename_is_a_plain_basename(name: str):
    from qa.interfaces.ui.files import MAX_STEM, safe_filename

    safe = safe_filename(name)
    assert SAFE_NAME.match(safe) and ".." not in safe and len(safe) <= MAX_STEM + 9, safe
    assert safe not in (".", "..") and "/" not in safe and "\\" not in safe


def test_hostile_upload_names_land_inside_uploads(tmp_path: Path):
    """Every file is stored under ``<data_dir>/uploads/`` with a safe basename, whatever the client called it."""
    from qa.interfaces.ui.files import save_uploads, upload_dir

    data_dir = tmp_path / "data"
    folder = upload_dir(data_dir)
    incoming = tmp_path / "incoming" / "a" / "b" / "c"
    incoming.mkdir(parents=True)
    sources = []
    for name in HOSTILE_NAMES:  # as a client could hand them over: a path whose last part is hostile
        if "\x00" in name or name in ("..",):
            continue  # no file can have this name; covered by test_safe_filename_is_a_plain_basename
        name = name if len(name) < 250 else name[:240] + ".txt"
        path = Path(str(incoming) + "/" + name.lstrip("/")) if "/" in name else incoming / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Title {len(sources)}\n\nBody.\n", encoding="utf-8")
        sources.append(str(incoming) + "/" + name.lstrip("/") if "/" in name else str(path))
    accepted = save_uploads(sources, folder, max_mb=1, max_files=len(sources))
    assert accepted.paths
    for stored in accepted.paths:
        assert stored.resolve().parent == folder.resolve() and SAFE_NAME.match(stored.name), stored
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(incoming.parents[2])
               and not p.is_relative_to(folder)]
    assert outside == []  # nothing written anywhere else
    for name, reason in accepted.rejected:  # a name with a control character is refused, never cleaned up
        assert ("unsupported file type" in reason or "control characters" in reason) and "/" not in name, (name, reason)


def test_oversize_and_too_many_uploads_are_refused_clearly(tmp_path: Path):
    from qa.config import Config
    from qa.interfaces.ui.files import UploadError, save_uploads, upload_dir, write_pasted

    config = Config.load(env={"QA_MAX_UPLOAD_MB": "0.01", "QA_MAX_UPLOAD_FILES": "2"}, data_dir=tmp_path / "d")
    folder = upload_dir(config.data_dir)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 4000)  # 20 kB > 0.01 MB
    small = tmp_path / "small.txt"
    small.write_text("Title\n\nBody.\n", encoding="utf-8")
    accepted = save_uploads([str(big), str(small)], folder, config.max_upload_mb, config.max_upload_files)
    assert [p.name for p in accepted.paths] == ["small.txt"]
    assert "over the 0.01 MB upload limit" in dict(accepted.rejected)["big.txt"]
    assert not (folder / "big.txt").exists()
    with pytest.raises(UploadError, match=r"Too many files: 3 were given, at most 2"):
        save_uploads([str(small)] * 3, folder, config.max_upload_mb, config.max_upload_files)
    with pytest.raises(UploadError, match=r"over the 0.01 MB upload limit"):
        write_pasted("Title", "word " * 4000, folder, config.max_upload_mb)


def test_hostile_upload_through_the_app_is_stored_safely_and_escaped(secured, tmp_path: Path):
    from gradio_client import Client, handle_file

    upload = tmp_path / HOSTILE
    upload.write_text("Otters reopen the harbour\n\nA family of otters reopened the Brackwater harbour "
                      "on Monday after the storm.\n", encoding="utf-8")
    c = Client(secured.url + "/", auth=(USER, PASSWORD), verbose=False)
    report, *_ = c.predict([handle_file(upload)], api_name="/add_files")
    assert "Added (1)" in report and "<img" not in report
    uploads = secured.config.data_dir / "uploads"
    names = [p.name for p in uploads.iterdir()]
    assert len(names) == 1 and SAFE_NAME.match(names[0]) and names[0].endswith(".txt"), names


# --- data dir safety -------------------------------------------------------------------------------------
def python_sources() -> list[Path]:
    files = [ROOT / "app.py", *sorted((ROOT / "qa").rglob("*.py")), *sorted((ROOT / "embeddings").rglob("*.py"))]
    assert len(files) > 10
    return files


UNSAFE_CALLS = {"eval", "exec", "builtins.eval", "builtins.exec", "__import__", "compile", "torch.load",
                "pd.read_pickle", "pandas.read_pickle"}
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal", "cloudpickle"}


def unsafe_uses(source: str) -> list[str]:
    """Calls and imports that could run code from a data file, found in ``source`` (read as text)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [f"import {n}" for n in names if n and n.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if func in UNSAFE_CALLS or func.startswith("pickle."):
                found.append(func)
            elif func in ("np.load", "numpy.load") and keywords.get("allow_pickle") != "False":
                found.append(f"{func} without allow_pickle=False")
            elif keywords.get("allow_pickle") not in (None, "False"):
                found.append(f"{func}(allow_pickle={keywords['allow_pickle']})")
    for pattern in (r"\bpickle\.loads?\(", r"\btorch\.load\(", r"(?<![\w.])eval\(", r"(?<![\w.])exec\(",
                    r"\bnp\.load\((?![^)]*allow_pickle=False)", r"allow_pickle\s*=\s*True", r"^\s*import pickle"):
        found += [f"text: {m.group(0).strip()}" for m in re.finditer(pattern, source, re.MULTILINE)]
    return found


def test_no_unsafe_deserialisation_or_eval_in_the_sources():
    problems = {str(path.relative_to(ROOT)): uses for path in python_sources()
                if (uses := unsafe_uses(path.read_text(encoding="utf-8")))}
    assert problems == {}


def test_the_source_scan_finds_what_it_looks_for():
    bad = ("import pickle\nimport numpy as np\nx = np.load('a.npy')\ny = eval('1')\nexec('z=1')\n"
           "import torch\nw = torch.load('m.pt')\nv = np.load('b.npy', allow_pickle=True)\n")
    found = " ".join(unsafe_uses(bad))
    for needle in ("import pickle", "np.load without", "eval", "exec", "torch.load", "allow_pickle=True"):
        assert needle in found
    assert unsafe_uses("import numpy as np\nx = np.load('a.npy', allow_pickle=False)\nmodel.eval()\n") == []


# --- escaping of file names and errors ---------------------------------------------------------------------
def assert_escaped(markup: str) -> None:
    assert "<img" not in markup and "<script" not in markup and "onerror=alert(1)>" not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup


def test_ingest_report_escapes_hostile_file_names():
    from qa.ingest.pipeline import IngestReport
    from qa.interfaces.ui import render
    from qa.interfaces.ui.files import display_name

    report = IngestReport(added=[f"Title {HOSTILE}"], failed=[(f"/srv/uploads/{HOSTILE}", f"bad <b>{HOSTILE}</b>")],
                          skipped=[(HOSTILE, "empty")], duplicates=[HOSTILE])
    markup = render.ingest_report(report, [(display_name(HOSTILE), "unsupported file type")],
                                  shorten=lambda s: s.replace("/srv/uploads/", ""))
    assert_escaped(markup)
    assert "<b>bad" not in markup and "/srv/uploads" not in markup
    assert_escaped(render.ingest_report(None, [(display_name("../../" + HOSTILE), "over the limit")]))


def test_error_messages_escape_hostile_file_names():
    from qa.interfaces.ui import render
    from qa.interfaces.ui.chat import ask_stream

    for markup in (render.notice(f"The upload failed: {HOSTILE}", "error"), render.error_message(f"No {HOSTILE}"),
                   render.notice(f"No article with id “{HOSTILE}”.", "error"),
                   render.notice(HOSTILE, '"><script>alert(1)</script>')):
        assert_escaped(markup)

    class Broken:
        def stream(self, *args, **kwargs):
            yield from ()
            raise OSError(f"cannot read {HOSTILE}")

    *_, (chat, _panel, _turns) = ask_stream(Broken(), f"What about {HOSTILE}?", [])
    for message in chat:
        content = message["content"]
        assert "<img" not in content and "&lt;img" in content
