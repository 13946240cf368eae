"""The first answer after a start: on a built index (a restart) and on an empty data dir (a first start).

    python benchmarks/first_answer.py

Runs ``python app.py`` as a user does, on a free 127.0.0.1 port. Restart: the demo index is built once
beforehand; the app is then started on it, and as soon as its port answers a seed question is asked through
``POST /api/ask``; then a second one. First start: the app starts on an empty data dir and the same question
is asked at once (it waits while the demo index is built), with an empty model cache as on a new machine
(``XDG_CACHE_HOME`` in the work folder: the ONNX encoder is exported and quantised first). Run it on a
quiet machine. Writes benchmarks/results/first_answer.txt.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who hosted South Korean President Lee Jae Myung?"
SECOND = "What did Japan's and South Korea's defense ministers agree on in Yokosuka?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(data_dir: Path, log: Path, cache: Path) -> tuple[subprocess.Popen, str, float]:
    """Starts the app with the user cache ``cache``; returns it, its URL and the seconds until its port answered."""
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(cache)}
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir",
                                    str(data_dir)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(url + "/", timeout=2)
            return process, url, time.perf_counter() - started
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:]) from None
            time.sleep(0.05)


def _ask(url: str, question: str) -> float:
    started = time.perf_counter()
    httpx.post(url + "/api/ask", json={"question": question}, timeout=600).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    """Measures and writes the report."""
    work = Path(tempfile.mkdtemp(prefix="qa-first-answer-"))
    lines = [f"# first answer — {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores"]

    process, url, up = _start(work / "fresh", work / "first-start.log", work / "cache")
    first = _ask(url, QUESTION)
    process.terminate()
    process.wait(30)
    lines.append(f"first start (empty data dir): page up after {up:.1f} s; a question asked at once was answered "
                 f"{first:.1f} s later, once the encoder was exported and the demo index built")

    process, url, up = _start(work / "fresh", work / "restart.log", work / "cache")
    first, second = _ask(url, QUESTION), _ask(url, SECOND)
    process.terminate()
    process.wait(30)
    lines.append(f"restart (built demo index): page up after {up:.1f} s; first answer {first * 1000:.0f} ms, "
                 f"second {second * 1000:.0f} ms")
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results" / "first_answer.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
