"""Huge uploads through the running app while a user keeps asking: is each bounded, and do questions stay fast?

    python benchmarks/big_upload.py                  # the three uploads below, full size (minutes on a CPU)
    python benchmarks/big_upload.py --scale 0.05     # the same at 5 % of the size: a quick check that it runs
    python benchmarks/big_upload.py --cases a6,one

Launches the app (default settings, reranker on) over the seed articles on a free 127.0.0.1 port. For each
case it uploads one file through the page's own API (`/add_files`, as the Add files button does) while a
second client asks seed questions back to back through `POST /api/ask`, then reports the upload's wall time,
the passages it added, what its report said, and the latency of the questions asked meanwhile (p50, p95, max;
a row of questions with no upload running comes first, for comparison). The cases:

  a6     6 MB of "A. " repeated: no article; refused before anything is embedded
  one    ~19.5 MB realistic text in one .txt (the newsdev articles, concatenated, over and over): indexed in part
  many   ~19.5 MB of realistic articles in one .jsonl (newsdev, each copy an edition of its own): all indexed,
         committed a slice at a time

Run it on a quiet machine: other work on the cores slows both the upload and the questions. Writes
benchmarks/results/big_upload.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
NEWSDEV = Path(os.environ.get("QA_NEWSDEV", "/work/shared/eval/data/newsdev/corpus.jsonl"))
QUESTIONS = ["What did Japan and South Korea agree on?", "Who met in Yokosuka?",
             "What will defense personnel exchange?"]
BASELINE_S = 20.0  # how long questions are asked with no upload running, for the first row
MB = 1024 * 1024


@dataclass
class Row:
    """One case: the upload's size and outcome, and the questions answered while it ran."""

    case: str
    megabytes: float
    seconds: float
    passages: int
    outcome: str
    latencies: list[float] = field(default_factory=list)

    def line(self) -> str:
        """The row as a Markdown table line."""
        lat = sorted(self.latencies)
        if lat:
            p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
            asked = f"{len(lat)} | {statistics.median(lat):.2f} | {p95:.2f} | {lat[-1]:.2f}"
        else:
            asked = "0 | – | – | –"
        size = f"{self.megabytes:.1f}" if self.megabytes else "–"
        took = f"{self.seconds:.1f}" if self.megabytes else "–"
        return f"| {self.case} | {size} | {took} | {self.passages:,} | {self.outcome} | {asked} |"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _newsdev() -> list[dict]:
    return [json.loads(line) for line in NEWSDEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def degenerate_text(path: Path, size: int) -> Path:
    """``size`` bytes of "A. " under a title line."""
    path.write_text("Degenerate\n\n" + "A. " * (size // 3), encoding="utf-8")
    return path


def one_text(path: Path, size: int) -> Path:
    """The newsdev article texts concatenated, over and over, to ``size`` bytes: one very long article."""
    texts = [row["text"] for row in _newsdev()]
    parts, total, i = ["Collected news\n"], 0, 0
    while total < size:
        parts.append(texts[i % len(texts)])
        total += len(texts[i % len(texts)]) + 2
        i += 1
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return path


def many_articles(path: Path, size: int) -> Path:
    """The newsdev articles, each copy an edition of its own (another title and a first line, so that no copy
    is a duplicate), as JSON lines up to ``size`` bytes."""
    rows, lines, total, edition = _newsdev(), [], 0, 0
    while total < size:
        edition += 1
        for row in rows:
            record = {"title": f"{row['title']} (edition {edition})", "date": row.get("date"),
                      "source": row.get("source"), "text": f"Edition {edition}. {row['text']}"}
            lines.append(json.dumps(record, ensure_ascii=False))
            total += len(lines[-1].encode()) + 1
            if total >= size:
                break
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CASES: dict[str, tuple[str, float, Callable[[Path, int], Path], str]] = {
    "a6": ("6 MB of “A. ”", 6.0, degenerate_text, "a6.txt"),
    "one": ("~19.5 MB realistic, one .txt", 19.5, one_text, "one.txt"),
    "many": ("~19.5 MB realistic articles, one .jsonl", 19.5, many_articles, "many.jsonl"),
}


def _outcome(report_html: str) -> str:
    """What the upload's report says, in a few words."""
    if "near-empty sentences" in report_html or "two or more letters" in report_html:
        return "refused (no article)"
    if "indexed in part" in report_html:
        return "indexed in part"
    if "Added (" in report_html:
        return "added"
    return "other: " + report_html[:80].replace("|", "/")


def main() -> None:
    """Runs the cases and writes the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="a6,one,many", help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--scale", type=float, default=1.0, help="size factor for every case (e.g. 0.05)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "big_upload.txt")
    args = parser.parse_args()

    import httpx
    from gradio_client import Client, handle_file

    import app
    from qa.assistant import Assistant
    from qa.config import Config
    from qa.ingest.pipeline import Ingestor

    work = Path(tempfile.mkdtemp(prefix="qa-big-upload-"))
    config = Config.load(env={}, data_dir=work / "data", host="127.0.0.1", port=_free_port())
    assistant = Assistant(config)
    Ingestor(assistant.collection).ingest([ROOT / "seeds"])
    assistant.warm_up()
    web = app.build_app(assistant, config)
    web.launch(prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{config.port}"
    asker = httpx.Client(base_url=url, timeout=300)

    def ask_until(done: threading.Event, latencies: list[float]) -> None:
        i = 0
        while not done.is_set():
            started = time.perf_counter()
            response = asker.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)
            i += 1

    asker.post("/api/ask", json={"question": QUESTIONS[0]}).raise_for_status()  # warm
    quiet = Row("no upload (questions only)", 0.0, 0.0, 0, "–")
    stop = threading.Event()
    threading.Timer(BASELINE_S, stop.set).start()
    ask_until(stop, quiet.latencies)
    rows = [quiet]
    for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
        label, megabytes, make, filename = CASES[name]
        path = make(work / filename, int(megabytes * args.scale * MB))
        before = assistant.collection.stats().chunks
        done, latencies = threading.Event(), []
        thread = threading.Thread(target=ask_until, args=(done, latencies))
        started = time.perf_counter()
        thread.start()
        result = Client(url + "/", verbose=False).predict([handle_file(str(path))], False, api_name="/add_files")
        seconds = time.perf_counter() - started
        done.set()
        thread.join()
        row = Row(label, path.stat().st_size / MB, seconds, assistant.collection.stats().chunks - before,
                  _outcome(str(result[0])), latencies)
        rows.append(row)
        print(row.line(), flush=True)
    web.close()

    header = ["| upload | MB | time to index (s) | passages | outcome | questions | ask p50 (s) | ask p95 (s) | "
              "ask max (s) |", "|---|---|---|---|---|---|---|---|---|"]
    text = "\n".join([
        f"# big upload — {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, "
        f"scale {args.scale:g}", "", *header, *(row.line() for row in rows)]) + "\n"
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
