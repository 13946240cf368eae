"""Load test of the web app: N simulated users asking questions at once, with articles added meanwhile.

    python benchmarks/load.py                         # 8 users for 120 s, 5 articles added halfway
    python benchmarks/load.py --users 2 --duration 15
    python benchmarks/load.py --no-ingest-during

Starts ``python app.py`` as a subprocess on a free 127.0.0.1 port with a fresh data dir (the app builds
the demo index from ``seeds/`` on first start; the test waits until it is ready), then drives it through
its API with ``gradio_client``: one Client per user thread, so each user has its own session and chat
history. Users ask the questions of ``benchmarks/data/demo_questions.jsonl`` round-robin (each from its
own offset) back to back, with a new chat every few questions, until ``--duration`` is over.

Halfway through, ``--ingest-during`` (on by default) adds short generated articles through ``/add_text``
while users keep asking; afterwards each added article must be found by a question about it (its title in
the sources panel), and ``python -m qa check`` must report the collection consistent.

Measured: requests, answers/s, latency p50/p95/p99 (one full ``/ask`` call, until its final streamed
output), errors (an exception, or an answer that is empty or says something went wrong), and the app
process's RSS after warm-up and at the end. Writes ``benchmarks/results/load.txt``; exits 0 only when
the target (8 users, p95 < 3 s, 0 errors) and every check pass.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio_client is imported
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import html
import json
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "data" / "demo_questions.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "load.txt"
DEMO_ARTICLES = 44  # what the app builds from seeds/ on first start
TARGET_USERS, TARGET_P95_S = 8, 3.0
BAD_ANSWER = re.compile(r"something went wrong|traceback|still being built", re.IGNORECASE)

# Generated articles added while users ask; each has a question whose answer only it holds.
ARTICLES = [
    ("Velmora harbour opens a tidal museum",
     "The harbour town of Velmora opened a tidal museum on Thursday. The museum shows the tide mills that "
     "powered the town's grain trade for three centuries. Curator Odile Fanshawe said 12,000 visitors booked "
     "tickets in the first week.",
     "Who is the curator of the tidal museum in Velmora?"),
    ("Quarry lake in Hollin Vale declared a bird reserve",
     "The flooded quarry lake in Hollin Vale was declared a bird reserve by the regional council. Birdwatchers "
     "counted 41 species of waterfowl at the lake last winter. Warden Piet Aldous will guide weekend walks.",
     "How many species of waterfowl were counted at the Hollin Vale quarry lake?"),
    ("Tramline to Orsk Point reopens after repairs",
     "The coastal tramline to Orsk Point reopened after eight months of repairs to its sea wall. The operator "
     "said the restored line carries 3,500 passengers a day in summer. Engineer Lusa Marrin led the works.",
     "Which engineer led the repairs of the tramline to Orsk Point?"),
    ("Brindlecombe library lends out telescopes",
     "The public library of Brindlecombe now lends out telescopes alongside books. Librarian Tamsin Oyelaran "
     "said the 25 telescopes were donated by a local astronomy club. Borrowers can keep one for two weeks.",
     "Who donated the telescopes that the Brindlecombe library lends out?"),
    ("Glass footbridge spans the Kessel gorge",
     "A glass-floored footbridge now spans the Kessel gorge, 90 metres above the river. The bridge took two "
     "years to build and cost 6 million euros. Mayor Ines Valdrup cut the ribbon on Saturday.",
     "How high above the river is the glass footbridge over the Kessel gorge?"),
]


@dataclass
class Call:
    """One ``/ask`` call: when it started (s since the load began), how long it took, and what went wrong."""

    user: int
    start: float
    seconds: float
    error: str | None = None


@dataclass
class Ingested:
    """One article added through ``/add_text`` while users asked."""

    title: str
    start: float
    seconds: float
    error: str | None = None
    found: bool | None = None


@dataclass
class Run:
    calls: list[Call] = field(default_factory=list)
    ingested: list[Ingested] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: Call | Ingested) -> None:
        with self.lock:
            (self.calls if isinstance(item, Call) else self.ingested).append(item)


# --- the app process ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (from /proc), or None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def start_app(port: int, data_dir: Path, log_path: Path) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:port over data_dir, its output going to log_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}  # flags below decide
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    for name in ("QA_LLM_BASE_URL", "QA_LLM_MODEL", "QA_LLM_API_KEY"):  # keep an LLM if one is configured
        if os.environ.get(name):
            env[name] = os.environ[name]
    command = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(data_dir)]
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_app(process: subprocess.Popen) -> None:
    """Ctrl-C first (Gradio closes cleanly), then SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    for stop, wait in ((lambda: process.send_signal(signal.SIGINT), 15), (process.terminate, 10),
                       (process.kill, 10)):
        stop()
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False)


def article_count(header_html: str) -> int:
    match = re.search(r"<b>([\d,]+)</b> articles", header_html or "")
    return int(match.group(1).replace(",", "")) if match else 0


def wait_until_ready(url: str, process: subprocess.Popen, expect_articles: int, timeout: float) -> float:
    """Waits until the app answers with the whole demo index built; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + timeout
    c = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode} while starting")
        try:
            c = c or client(url)
            header, *_ = c.predict(api_name="/refresh")
            if article_count(header) >= expect_articles:
                answer = answer_text(c.predict(load_questions()[0], False, [], "", "", "", api_name="/ask")[0])
                if not BAD_ANSWER.search(answer):
                    c.predict(api_name="/new_chat")
                    return time.monotonic() - started
        except Exception:  # not listening yet, or still loading
            pass
        time.sleep(1.0)
    raise TimeoutError(f"the app was not ready after {timeout:.0f} s")


# --- what users do -----------------------------------------------------------------------------------
def load_questions(path: Path = QUESTIONS) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row["question"] for row in rows if row.get("question")]


def plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup or ""))


def message_text(message: dict) -> str:
    """A chat message's content as one string (Gradio may return a list of blocks)."""
    content = message.get("content")
    if isinstance(content, dict):
        content = content.get("text", "")
    elif isinstance(content, list):
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content or "")


def answer_text(chat) -> str:
    """The last assistant message of a chat returned by ``/ask``."""
    if not chat or chat[-1].get("role") != "assistant":
        return ""
    return message_text(chat[-1])


def check_answer(chat, question: str) -> str | None:
    """Why an ``/ask`` result is an error, or None when it is a proper answer to ``question``."""
    text = answer_text(chat)
    if not plain(text).strip():
        return "empty answer"
    if BAD_ANSWER.search(text):
        return "error answer: " + " ".join(plain(text).split())[:160]
    asked = plain(message_text(chat[-2])) if len(chat) >= 2 else ""
    if " ".join(question.split()) not in " ".join(asked.split()):
        return "answer to another question (sessions mixed up?)"
    return None


def user(number: int, c, questions: list[str], t0: float, deadline: float, run: Run, new_chat_every: int,
         timeout: float) -> None:
    """Asks back to back until the deadline; starts a new chat every ``new_chat_every`` questions."""
    offset = number * max(1, len(questions) // 8)
    asked = 0
    while time.monotonic() < deadline:
        question = questions[(offset + asked) % len(questions)]
        started = time.monotonic()
        error = None
        try:
            chat, _panel, _ = c.submit(question, False, [], "", "", "", api_name="/ask").result(timeout=timeout)
            error = check_answer(chat, question)
        except Exception as exc:  # counted, never raised: the load goes on
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
        run.add(Call(number, started - t0, time.monotonic() - started, error))
        asked += 1
        if new_chat_every and asked % new_chat_every == 0:
            try:
                c.predict(api_name="/new_chat")
            except Exception as exc:
                run.add(Call(number, time.monotonic() - t0, 0.0, f"new_chat failed: {type(exc).__name__}: {exc}"))


def ingester(c, t0: float, start_at: float, every: float, count: int, run: Run, stop: threading.Event,
             pid: int, rss: dict) -> None:
    """Adds ``count`` generated articles through ``/add_text``, one every ``every`` seconds."""
    if stop.wait(max(0.0, start_at - time.monotonic())):
        return
    rss["before_ingest"] = rss_mb(pid)
    for n, (title, text, _question) in enumerate(ARTICLES[:count]):
        started = time.monotonic()
        error = None
        try:
            outcome, *_ = c.predict(title, text, api_name="/add_text")
            if "Added (1)" not in outcome:
                error = "not added: " + " ".join(plain(outcome).split())[:160]
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        run.add(Ingested(title, started - t0, time.monotonic() - started, error))
        rss["after_ingest"] = rss_mb(pid)
        if n + 1 < count and stop.wait(max(0.0, started + every - time.monotonic())):
            return


def find_added(url: str, run: Run) -> None:
    """Asks about each added article in a fresh session; ``found`` when its title is among the sources."""
    questions = {title: question for title, _text, question in ARTICLES}
    c = client(url)
    for item in run.ingested:
        if item.error:
            continue
        try:
            chat, panel, _ = c.predict(questions[item.title], False, [], "", "", "", api_name="/ask")
            item.found = html.escape(item.title) in (panel or "") and check_answer(chat, questions[item.title]) is None
            c.predict(api_name="/new_chat")
        except Exception:
            item.found = False


def collection_check(data_dir: Path) -> tuple[bool, str]:
    """``python -m qa --data-dir D check``: (ok, its output)."""
    done = subprocess.run([sys.executable, "-m", "qa", "--data-dir", str(data_dir), "check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    output = (done.stdout + done.stderr).strip()
    return done.returncode == 0 and output.startswith("ok"), output


# --- report -----------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; nan when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def report(args: argparse.Namespace, run: Run, facts: dict) -> tuple[str, bool]:
    """The report text, and whether the target and every check passed."""
    calls = sorted(run.calls, key=lambda c: c.start)
    asks = [c for c in calls if not (c.error or "").startswith("new_chat")]
    ok = [c for c in asks if c.error is None]
    errors = [c for c in calls if c.error is not None]
    latencies = [c.seconds for c in asks]
    elapsed = facts["load_s"]
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    lines = [
        "Load test of the web app (benchmarks/load.py)",
        f"command:  {facts['command']}",
        f"date:     {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine:  {os.cpu_count()} cores, processor {platform.processor() or 'unknown'!r}, "
        f"{platform.machine()}, {platform.platform()}, Python {platform.python_version()}",
        f"load:     {args.users} users for {args.duration:g} s, questions from {QUESTIONS.relative_to(ROOT)} "
        f"({facts['questions']} questions, round-robin, per-user offset), new chat every "
        f"{args.new_chat_every} questions; ingest during the load: {'on' if args.ingest_during else 'off'}",
        f"app:      python app.py (pid {facts['pid']}), fresh data dir, ready after {facts['ready_s']:.1f} s "
        f"({facts['articles']} articles)",
        "",
        f"requests:    {len(asks)} /ask calls in {elapsed:.1f} s ({len(ok)} answered, {len(asks) - len(ok)} failed)",
        f"throughput:  {len(ok) / elapsed if elapsed else 0:.2f} answers/s",
        f"latency:     p50 {p50:.2f} s, p95 {p95:.2f} s, p99 {p99:.2f} s, max {max(latencies, default=0):.2f} s "
        f"(one full /ask call, until its final output)",
        f"errors:      {len(errors)}",
    ]
    for c in errors[:8]:
        lines.append(f"  user {c.user} at {c.start:.1f} s: {c.error}")
    if args.ingest_during:
        window = [c.seconds for c in asks if run.ingested and run.ingested[0].start <= c.start
                  <= run.ingested[-1].start + run.ingested[-1].seconds]
        lines.append(f"while ingesting: {len(window)} calls, p50 {percentile(window, 50):.2f} s, "
                     f"p95 {percentile(window, 95):.2f} s")
    memory = facts["rss_start"], facts["rss_end"], facts["rss_peak"]
    if None not in memory:
        lines.append(f"memory (RSS of the app): {memory[0]:.0f} MB after warm-up, {memory[1]:.0f} MB at the end, "
                     f"growth {memory[1] - memory[0]:+.0f} MB; peak seen {memory[2]:.0f} MB")
        if facts.get("before_ingest") and facts.get("after_ingest"):
            lines.append(f"  of which while adding articles: {facts['before_ingest']:.0f} -> "
                         f"{facts['after_ingest']:.0f} MB ({facts['after_ingest'] - facts['before_ingest']:+.0f} MB)")
    else:
        lines.append("memory: could not read /proc/<pid>/status")
    checks_ok = not errors
    if args.ingest_during:
        lines.append("")
        lines.append(f"articles added through /add_text during the load: {len(run.ingested)}")
        for item in run.ingested:
            state = item.error or ("found by a question" if item.found else "NOT found by a question")
            lines.append(f"  at {item.start:5.1f} s, {item.seconds:4.1f} s: {item.title} — {state}")
        ingest_ok = (len(run.ingested) == args.ingest_articles
                     and all(i.error is None and i.found for i in run.ingested))
        checks_ok = checks_ok and ingest_ok
    lines.append(f"collection check: {facts['check_output']}")
    checks_ok = checks_ok and facts["check_ok"]

    reasons = []
    if args.users < TARGET_USERS:
        reasons.append(f"ran {args.users} users, the target needs {TARGET_USERS}")
    if not p95 < TARGET_P95_S:
        reasons.append(f"p95 {p95:.2f} s")
    if errors:
        reasons.append(f"{len(errors)} errors")
    if not checks_ok and not errors:
        reasons.append("a check failed")
    passed = not reasons
    lines += ["", f"target on 2 cores: {TARGET_USERS} users, p95 < {TARGET_P95_S:g} s, 0 errors: "
                  + ("PASS" if passed else f"FAIL ({'; '.join(reasons)})")]
    return "\n".join(lines) + "\n", passed


# --- main -------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=8, help="simulated users asking at once [8]")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load [120]")
    parser.add_argument("--ingest-during", action=argparse.BooleanOptionalAction, default=True,
                        help="add articles through /add_text halfway through [on]")
    parser.add_argument("--ingest-articles", type=int, default=5, choices=range(1, len(ARTICLES) + 1),
                        metavar=f"1-{len(ARTICLES)}", help="articles added during the load [5]")
    parser.add_argument("--ingest-every", type=float,
                        help="seconds between added articles [3, less when --duration is short]")
    parser.add_argument("--new-chat-every", type=int, default=5, help="questions per chat before New chat [5]")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="seconds before an /ask is an error")
    parser.add_argument("--startup-timeout", type=float, default=900.0, help="seconds to wait for the app [900]")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"report file [{RESULTS.relative_to(ROOT)}]")
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration <= 0:
        parser.error("--users and --duration must be positive")
    if args.ingest_every is None:
        args.ingest_every = min(3.0, args.duration / (2 * (args.ingest_articles + 1)))

    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0])), *sys.argv[1:]]) \
        if argv is None else "python benchmarks/load.py " + " ".join(map(shlex.quote, argv))
    questions = load_questions()
    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    data_dir, log_path = work / "data", work / "app.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    run = Run()
    stop = threading.Event()
    process = None
    facts: dict = {"command": command, "questions": len(questions)}
    try:
        print(f"starting the app on {url} (data dir {data_dir}; building the demo index takes a while)...",
              flush=True)
        process = start_app(port, data_dir, log_path)
        facts["pid"] = process.pid
        facts["ready_s"] = wait_until_ready(url, process, DEMO_ARTICLES, args.startup_timeout)
        clients = [client(url) for _ in range(args.users)]
        facts["articles"] = article_count(clients[0].predict(api_name="/refresh")[0])
        facts["rss_start"] = rss_mb(process.pid)
        peak = [facts["rss_start"] or 0.0]

        def watch_memory() -> None:
            while not stop.wait(1.0):
                peak[0] = max(peak[0], rss_mb(process.pid) or 0.0)

        print(f"ready after {facts['ready_s']:.0f} s; {args.users} users for {args.duration:g} s...", flush=True)
        t0 = time.monotonic()
        deadline = t0 + args.duration
        threads = [threading.Thread(target=user, name=f"user-{n}", daemon=True,
                                    args=(n, c, questions, t0, deadline, run, args.new_chat_every,
                                          args.request_timeout))
                   for n, c in enumerate(clients)]
        threads.append(threading.Thread(target=watch_memory, name="memory", daemon=True))
        if args.ingest_during:
            threads.append(threading.Thread(
                target=ingester, name="ingester", daemon=True,
                args=(client(url), t0, t0 + args.duration / 2, args.ingest_every, args.ingest_articles, run, stop,
                      process.pid, facts)))
        for thread in threads:
            thread.start()
        for thread in threads:
            if thread.name.startswith("user-"):
                thread.join(args.duration + args.request_timeout + 30)
        facts["load_s"] = max([c.start + c.seconds for c in run.calls], default=args.duration)
        if args.ingest_during:
            next(t for t in threads if t.name == "ingester").join(args.ingest_every * args.ingest_articles + 120)
        stop.set()
        facts["rss_end"] = rss_mb(process.pid)
        facts["rss_peak"] = max(peak[0], facts["rss_end"] or 0.0)
        if args.ingest_during:
            find_added(url, run)
    except BaseException:
        if log_path.exists():
            print("--- app log (last lines) ---\n" + "\n".join(
                log_path.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        stop.set()
        if process is not None:
            stop_app(process)
    try:
        facts["check_ok"], facts["check_output"] = collection_check(data_dir)
        text, passed = report(args, run, facts)
        print("\n" + text, end="")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(f"(written to {args.out})")
    finally:
        if not args.keep_data:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"data dir kept: {data_dir}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
