"""The login throttle (qa.interfaces.ui.throttle) and one protection for every write path, against a real server.

Requests are sent "from" different loopback addresses (the whole of 127/8 is this machine) by binding the
client socket's local address. The server of this module has users ann and bob, an API token, and one listed
proxy, 127.0.0.9. Issue 21, findings 2, 3 and 5.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.interfaces.ui.auth import check_server_config
from qa.interfaces.ui.throttle import GuessThrottle, Proxies, address_key
from tests.conftest import ROOT, SEED, _free_port

pytestmark = [pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning")]

TOKEN = "tok-7f3a"
PROXY = "127.0.0.9"


# --- the policy ---------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_user_guessed_from_one_address_is_refused_there_only() -> None:
    clock = _Clock()
    throttle = GuessThrottle(per_user=10, per_address=30, window_s=300, clock=clock)
    for _ in range(10):
        throttle.failed("10.0.0.1", "Ann")
    assert 299 <= throttle.retry_after("10.0.0.1", "ann") <= 300
    assert throttle.retry_after("10.0.0.2", "ann") == 0  # the owner elsewhere
    assert throttle.retry_after("10.0.0.1", "bob") == 0  # another user from the guessing address
    assert throttle.retry_after("10.0.0.1", None) == 0
    clock.now += 300
    assert throttle.retry_after("10.0.0.1", "ann") == 0


def test_an_address_guessing_many_names_or_tokens_is_refused_for_all() -> None:
    throttle = GuessThrottle(per_user=10, per_address=30, window_s=300, clock=_Clock())
    for number in range(20):
        throttle.failed("10.0.0.1", f"user{number}")
    for _ in range(9):
        throttle.failed("10.0.0.1", None)  # wrong bearer tokens
    throttle.succeeded("10.0.0.1", "bob")  # signing in as oneself does not reset the address's count
    assert throttle.retry_after("10.0.0.1", None) == 0
    throttle.failed("10.0.0.1", None)
    assert throttle.retry_after("10.0.0.1", None) > 0 and throttle.retry_after("10.0.0.1", "bob") > 0
    assert throttle.retry_after("10.0.0.2", None) == 0


def test_many_addresses_guessing_one_user_never_lock_it_out_and_warn(caplog: pytest.LogCaptureFixture) -> None:
    throttle = GuessThrottle(per_user=10, per_address=30, window_s=300, clock=_Clock())
    for number in range(40):
        throttle.failed(f"10.0.{number}.1", "ann")
    assert throttle.retry_after("10.0.99.1", "ann") == 0
    assert [r.getMessage() for r in caplog.records] == [
        "user 'ann' had 30 failed logins within 300 s from all addresses together"]


def test_addresses_are_counted_by_ipv4_and_ipv6_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:10.0.0.1") == "10.0.0.1" and address_key("x" * 500) == "x" * 100


@pytest.mark.parametrize(("peer", "header", "headers", "client"), [
    ("203.0.113.5", "x-forwarded-for", [("x-forwarded-for", "198.51.100.1")], "203.0.113.5"),  # not a proxy
    ("127.0.0.1", "x-forwarded-for", [("x-forwarded-for", "198.51.100.1")], "127.0.0.1"),  # nor is localhost
    ("10.0.0.2", "x-forwarded-for", [("x-forwarded-for", "6.6.6.6, 198.51.100.1")], "198.51.100.1"),
    ("10.0.0.2", "x-forwarded-for", [("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.1, 10.0.0.3")],
     "198.51.100.1"),  # two copies, and a second listed proxy
    ("10.0.0.2", "x-forwarded-for", [("forwarded", "for=6.6.6.6"), ("x-real-ip", "6.6.6.7")], "10.0.0.2"),
    ("10.0.0.2", "forwarded", [("forwarded", 'for=6.6.6.6, for="[2001:db8::1]:443";proto=https')], "2001:db8::1"),
    ("10.0.0.2", "forwarded", [("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=198.51.100.1:80")],
     "198.51.100.1"),
    ("10.0.0.2", "x-real-ip", [("x-real-ip", "198.51.100.1"), ("x-forwarded-for", "6.6.6.6")], "198.51.100.1"),
    ("::ffff:10.0.0.2", "x-forwarded-for", [("x-forwarded-for", "198.51.100.1")], "198.51.100.1"),
])
def test_forwarded_headers_count_only_from_listed_proxies(peer: str, header: str, headers: list[tuple[str, str]],
                                                          client: str) -> None:
    proxies = Proxies("10.0.0.2, 10.0.0.3/32", header)
    assert proxies.client(peer, [(k.encode(), v.encode()) for k, v in headers]) == client


@pytest.mark.parametrize(("env", "message"), [
    ({"QA_TRUSTED_PROXIES": "10.0.0.2,proxy.local"}, "'proxy.local' is not an IP address"),
    ({"QA_PROXY_HEADER": "x-client-ip"}, "QA_PROXY_HEADER='x-client-ip' is not one of"),
    ({"QA_API_TOKEN": TOKEN}, "QA_API_TOKEN protects only the REST API"),
])
def test_settings_that_do_not_hold_together_are_refused(env: dict[str, str], message: str) -> None:
    from qa.config import Config

    with pytest.raises(ValueError, match=message):
        check_server_config(Config.load(env=env))
    assert check_server_config(Config.load(env={"QA_API_TOKEN": TOKEN, "QA_AUTH": "ann:right"})) == [("ann", "right")]


def test_a_token_without_a_login_stops_the_server_from_starting(tmp_path: Path) -> None:
    """Before: the server started, and gradio_client's add_text and remove_article needed no credentials."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("QA_")}
    env.update(QA_API_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", str(_free_port()), "--data-dir",
                             str(tmp_path / "data")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "QA_API_TOKEN protects only the REST API" in result.stderr
    assert "set QA_AUTH too" in result.stderr and not (tmp_path / "data").exists()


# --- against a server ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with users ann and bob, a token and one listed proxy, over the seed article."""
    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("throttle")
    env = {"QA_AUTH": "ann:right,bob:other", "QA_API_TOKEN": TOKEN, "QA_TRUSTED_PROXIES": PROXY}
    config = Config.load(env=env, data_dir=root / "data", host="127.0.0.1", port=_free_port(), reranker_model="none")
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([SEED])
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{config.port}"
    web.close()
    assistant.collection.close()


def client_from(server: str, address: str) -> httpx.Client:
    """An HTTP client whose requests come from ``address`` (a loopback address)."""
    return httpx.Client(base_url=server, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def login(client: httpx.Client, user: str, password: str, headers: dict[str, str] | None = None) -> int:
    return client.post("/login", data={"username": user, "password": password}, headers=headers).status_code


def test_gradio_client_writes_only_with_a_login(server: str) -> None:
    from gradio_client import Client

    for headers in (None, {"Authorization": f"Bearer {TOKEN}"}):  # the token is for /api only
        with pytest.raises(Exception, match=r"(?i)login|auth|credential|401"):
            Client(server + "/", headers=headers, verbose=False)
    with client_from(server, "127.0.0.1") as anonymous:
        refused = anonymous.post("/gradio_api/call/add_text", json={"data": ["Planted", "Planted text."]})
        assert refused.status_code == 401
    c = Client(server + "/", auth=("ann", "right"), verbose=False)
    c.predict("Kiln festival opens", "The kiln festival opened in Tamba on Friday with 40 potters.",
              api_name="/add_text")
    with client_from(server, "127.0.0.1") as api:
        titles = [a["title"] for a in api.get("/api/articles", auth=("ann", "right")).json()["articles"]]
    assert "Kiln festival opens" in titles


def test_guesses_from_one_address_do_not_lock_the_user_out_of_another(server: str) -> None:
    """Before: ten wrong passwords for a user from 127.0.0.1 made the right one from 127.0.0.2 get 429."""
    with client_from(server, "127.0.0.2") as guesser, client_from(server, "127.0.0.3") as owner:
        assert [login(guesser, "ann", f"guess{n}") for n in range(10)] == [400] * 10
        assert login(guesser, "ann", "right") == 429
        assert guesser.get("/api/stats", auth=("ann", "right")).status_code == 429
        assert login(guesser, "bob", "other") == 200  # the address itself is not refused yet
        assert login(owner, "ann", "right") == 200
        assert owner.get("/api/stats", auth=("ann", "right")).status_code == 200


def test_a_listed_proxy_forwards_its_clients_addresses(server: str) -> None:
    with client_from(server, PROXY) as proxy, client_from(server, "127.0.0.4") as other:
        guesser, owner = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}
        assert [login(proxy, "ann", f"guess{n}", guesser) for n in range(10)] == [400] * 10
        assert login(proxy, "ann", "right", guesser) == 429
        assert login(proxy, "ann", "right", owner) == 200  # the proxy appended the owner's real address
        assert login(other, "ann", "right", guesser) == 200  # not a listed proxy: its header is ignored


def test_forwarded_headers_and_tokens_do_not_escape_the_address_count(server: str) -> None:
    """Before: 40 wrong bearer tokens and 40 wrong Basic logins from 127.0.0.1, each with another
    X-Forwarded-For, all got 401: uvicorn trusted the header from 127.0.0.1, and tokens counted per address."""
    with client_from(server, "127.0.0.1") as guesser, client_from(server, "127.0.0.5") as owner:
        statuses = []
        for n in range(30):  # wrong tokens and wrong Basic logins of other names, each "forwarded for" another
            spoof = {"X-Forwarded-For": f"198.51.100.{n}"}
            wrong = {"Authorization": f"Bearer guess{n}"} if n % 2 else {}
            statuses.append(guesser.get("/api/stats", headers={**spoof, **wrong},
                                        auth=None if n % 2 else (f"user{n}", "guess")).status_code)
        assert statuses == [401] * 30
        refused = guesser.get("/api/stats", headers={"Authorization": "Bearer nope", "X-Forwarded-For": "6.6.6.6"})
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 300
        for spoof in ({"Forwarded": "for=6.6.6.7"}, {"X-Real-IP": "6.6.6.8"}, {}):
            assert guesser.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}", **spoof}).status_code == 429
        assert guesser.get("/api/stats", auth=("ann", "right")).status_code == 429
        assert login(guesser, "ann", "right", {"X-Forwarded-For": "6.6.6.6"}) == 429
        assert owner.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
