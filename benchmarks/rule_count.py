"""How many hand-written rules steer the answers: regular expressions, hand-listed words and module-level numeric
settings, per module of the answering path (question analysis, names, dates, outcomes, sentences, answers).

Counted from the source with ``ast``: each ``re.compile`` call is a pattern, and each word of two or more letters
in its pattern (escapes like ``\\b`` aside) a hand-listed word; so is each string in a literal set, list, tuple or
dict key of two or more strings, each word in a dict's string values, and each word of a module-level string
of five words or more (a word list split later); each module-level UPPER_CASE name bound to a number is a
numeric setting.

    python benchmarks/rule_count.py [GIT_REV]    # GIT_REV: count an earlier release's files (git show)

Writes benchmarks/results/rule_count.txt (or rule_count-<rev>.txt).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
_ESCAPE = re.compile(r"\\[A-Za-z]|\(\?[A-Za-z]+")  # \b, \w, (?i … : pattern syntax, not words
_LETTERS = re.compile(r"[A-Za-z]{2,}")
# The modules whose rules decide answers (wherever the package keeps them).
# (The scorer's own modules - features, scorer, candidates, decisions - hold feature names and the words of
# their explanations, no rules: the weights that replaced rules are counted as numbers in the weights file.)
MODULES = ("answer_type", "names", "outcome", "timeframe", "sentences", "answers", "corroboration", "evidence",
           "checks", "short", "retrieval", "search", "words", "followup", "llm")


def source_files(rev: str | None) -> dict[str, str]:
    """Module name -> source, from the working tree or from ``rev``."""
    if rev is None:
        paths = [p.relative_to(ROOT).as_posix() for p in (ROOT / "qa").rglob("*.py")]
    else:
        paths = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "qa"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.split()
    out = {}
    for path in paths:
        name = Path(path).stem
        if path.endswith(".py") and name in MODULES:
            out[name] = ((ROOT / path).read_text(encoding="utf-8") if rev is None else subprocess.run(
                ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return out


def count(source: str) -> tuple[int, int, int]:
    """(patterns, hand-listed words, numeric settings) in one module's source."""
    tree = ast.parse(source)
    patterns = words = numbers = 0
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "compile"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"):
            patterns += 1
            for part in ast.walk(node.args[0]) if node.args else ():
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    words += len(_LETTERS.findall(_ESCAPE.sub(" ", part.value)))
        elements = (node.elts if isinstance(node, ast.Set | ast.List | ast.Tuple)
                    else node.keys if isinstance(node, ast.Dict) else [])
        strings = [e for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if len(strings) >= 2 and len(strings) == len(elements):
            words += len(strings)
        if isinstance(node, ast.Dict):  # word lists as values: {"birth": "born|birth|…", …}
            values = [v for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            if len(values) >= 2 and len(values) == len(node.values):
                words += sum(len(_LETTERS.findall(v.value)) for v in values)
    for statement in tree.body:
        value = getattr(statement, "value", None)
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and len(value.value.split()) >= 5 and (
                not isinstance(statement, ast.Expr)):  # a docstring is no word list
            words += len(value.value.split())
        targets = (statement.targets if isinstance(statement, ast.Assign)
                   else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
        number = isinstance(value, ast.Constant) and isinstance(value.value, int | float)
        if (number and not isinstance(getattr(value, "value", None), bool)
                and any(isinstance(t, ast.Name) and t.id.isupper() for t in targets)):
            numbers += 1
    return patterns, words, numbers


def main() -> None:
    rev = sys.argv[1] if len(sys.argv) > 1 else None
    rows = [(name, *count(source)) for name, source in sorted(source_files(rev).items())]
    lines = [f"# hand-written rules on the answering path ({rev or 'working tree'})", "",
             "| module | patterns | hand-listed words | numeric settings |", "|---|---|---|---|"]
    lines += [f"| {name} | {p} | {w} | {n} |" for name, p, w, n in rows]
    lines.append(f"| **total** | {sum(r[1] for r in rows)} | {sum(r[2] for r in rows)} | {sum(r[3] for r in rows)} |")
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / (f"rule_count-{rev}.txt" if rev else "rule_count.txt")).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
