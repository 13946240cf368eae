"""One huge upload through the running app while a user keeps asking: does it stay bounded?

    python benchmarks/big_upload.py              # a 15 MB .txt of one repeated line
    python benchmarks/big_upload.py --mb 19

Launches the app (default settings, reranker on) over the seed articles on a free 127.0.0.1 port,
uploads the file through the page's own API (`/add_files`, as the Add files button does), and asks
seed questions back to back from a second client until the upload is done. Reports the upload's
wall time, what the report said, and the latency of the questions asked meanwhile. Run it on a quiet
machine. Writes benchmarks/results/big_upload.txt.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
LINE = "The council approved the new budget for the city schools on Tuesday after a long debate. "
QUESTIONS = ["What did Japan and South Korea agree on?", "Who met in Yokosuka?",
             "What will defense personnel exchange?"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    """Runs the benchmark and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=15.0, help="size of the one-line file")
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest import Ingestor

    work = Path(tempfile.mkdtemp(prefix="qa-big-upload-"))
    big = work / "one-line.txt"
    big.write_text("Budget marathon\n\n" + LINE * int(args.mb * 1024 * 1024 / len(LINE)), encoding="utf-8")
    config = Config.load(env={}, data_dir=work / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([ROOT / "seeds"])
    _ = assistant.reranker
    demo = app.build_app(assistant, config)
    demo.launch(prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{config.port}/"
    asker = Client(url, verbose=False)
    asker.predict(QUESTIONS[0], False, [], "", "", "", api_name="/ask")  # warm
    latencies: list[float] = []
    done = threading.Event()

    def ask_meanwhile() -> None:
        i = 0
        while not done.is_set():
            started = time.perf_counter()
            asker.predict(QUESTIONS[i % len(QUESTIONS)], False, [], "", "", "", api_name="/ask")
            latencies.append(time.perf_counter() - started)
            i += 1

    thread = threading.Thread(target=ask_meanwhile)
    started = time.perf_counter()
    thread.start()
    result = Client(url, verbose=False).predict([handle_file(str(big))], api_name="/add_files")
    upload_s = time.perf_counter() - started
    done.set()
    thread.join()
    report_html = str(result[0])
    stored = [s for s in assistant.collection.store.articles() if s.article.title == "Budget marathon"]
    demo.close()

    lines = [
        f"# big upload — {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores",
        f"file: {big.stat().st_size / 1048576:.1f} MB, one repeated line, uploaded through /add_files",
        f"upload done in {upload_s:.1f} s; passages indexed: {stored[0].chunks if stored else 0}; "
        f"report says indexed in part: {'indexed in part 1' in report_html}",
        f"questions answered meanwhile: {len(latencies)}; latency p50 {statistics.median(latencies):.2f} s, "
        f"max {max(latencies):.2f} s" if latencies else "questions answered meanwhile: 0",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results" / "big_upload.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
