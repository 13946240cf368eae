"""Local ingest against `qa ingest --ray` (a local Ray on this machine) on the same folder of news articles.

    python benchmarks/ray_ingest.py              # the shared news corpora, each article its own file, 2 copies
    python benchmarks/ray_ingest.py --copies 4

Both run as `qa ingest` subprocesses into fresh data dirs, timed end to end (model load, and for Ray its
start and the staging of Parquet shards, included). Writes benchmarks/results/ray_ingest.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [ROOT.parent / "shared" / "eval" / "data" / name / "corpus.jsonl"
           for name in ("newsdev", "quail_news", "xquad_en")]


def article_folder(folder: Path, copies: int) -> int:
    """One JSON file per article and copy (a distinct first sentence per copy); returns the file count."""
    folder.mkdir(parents=True)
    count = 0
    for corpus in CORPORA:
        for line in corpus.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            for copy in range(copies):
                text = f"Copy {copy} of this report. {record['text']}"
                (folder / f"{count:05d}.json").write_text(
                    json.dumps({**record, "id": f"{record['id']}-{copy}", "text": text}), encoding="utf-8")
                count += 1
    return count


def timed_ingest(data_dir: Path, folder: Path, extra: list[str]) -> tuple[float, int, str]:
    """Seconds, chunks embedded and the summary line of one `qa ingest` run."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QA_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa", "ingest", str(folder), *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    summary = done.stdout.strip().splitlines()[-1]
    return seconds, int(re.search(r"(\d+) chunks embedded", summary).group(1)), summary


def main() -> None:
    """Runs both ingests and writes the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="qa-ray-"))
    files = article_folder(work / "articles", args.copies)
    rows = []
    for name, extra in (("local", []), ("ray (local Ray, 1 encoder actor)", ["--ray"])):
        seconds, chunks, summary = timed_ingest(work / name.split()[0], work / "articles", extra)
        rows.append((name, seconds, chunks, summary))
    local_rate = rows[0][2] / rows[0][1]
    lines = [f"# qa ingest vs qa ingest --ray — {platform.machine()}, {os.cpu_count()} cores, "
             f"python {platform.python_version()}", f"{files} article files", ""]
    for name, seconds, chunks, summary in rows:
        rate = chunks / seconds
        lines.append(f"{name}: {chunks} chunks in {seconds:.1f} s = {rate:.1f} chunks/s "
                     f"({100 * rate / local_rate:.1f} % of local)")
        lines.append(f"  {summary}")
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results" / "ray_ingest.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
