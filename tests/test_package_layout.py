"""The package shows the data flow (issue 24, item 2): each stage of qa/ imports only the stages below it, and the
text helpers (one tokenizer, one stop-word list, one overlap measure) live in one place."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from qa.text import words

QA = Path(__file__).resolve().parents[1] / "qa"

# The stages of qa/ and the stages each may import (its own always). Read bottom-up: the text helpers import
# nothing but config and types; answering works on retrieved evidence, never on the collection; only the
# assistant and the interfaces see everything.
BELOW: dict[str, set[str]] = {
    "config": set(),
    "types": set(),
    "text": {"config", "types"},
    "articles": {"config", "types", "text"},
    "storage": {"config", "types", "text"},
    "ingest": {"config", "types", "text", "articles", "storage"},
    "sources": {"config", "types", "text", "articles", "storage", "ingest"},
    "retrieval": {"config", "types", "text", "storage"},
    "answering": {"config", "types", "text", "retrieval"},
    "assistant": {"config", "types", "text", "storage", "retrieval", "answering"},
    "interfaces": {"config", "types", "text", "articles", "storage", "ingest", "sources", "retrieval", "answering",
                   "assistant"},
    "__main__": {"interfaces"},
}


def _stage(module: str) -> str:
    """``qa.storage.collection`` -> ``storage``; ``qa.config`` -> ``config``."""
    return module.split(".")[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(QA.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """The qa modules a file imports when it runs: imports only a type checker reads (under
    ``if TYPE_CHECKING:``) are left out, as they never load the other stage."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                 for statement in block.body for node in ast.walk(statement)}
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("qa.")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .common import ..., from . import render
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).rstrip(".")
            if base == "qa":
                found |= {f"qa.{alias.name}" for alias in node.names}
            elif base.startswith("qa."):
                found.add(base)
    return found


def test_every_stage_imports_only_the_stages_below_it() -> None:
    upward = []
    for path in sorted(QA.rglob("*.py")):
        module = _module_name(path)
        if module == "qa":
            continue
        stage = _stage(module)
        assert stage in BELOW, f"{module}: a stage the layout does not know; add it to BELOW"
        for imported in sorted(_runtime_imports(path)):
            other = _stage(imported)
            if other != stage and other not in BELOW[stage]:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_no_module_but_the_words_module_defines_a_word_tokenizer_or_stop_words() -> None:
    """Before, eight modules each compiled their own word pattern and four kept stop words of their own."""
    copies = []
    word_pattern = re.compile(r"""^_?(WORDS?|NON_WORD|STOP\w*)\s*=""", re.MULTILINE)
    for path in sorted(QA.rglob("*.py")):
        if path != QA / "text" / "words.py" and path != QA / "text" / "sentences.py":  # a whitespace split there
            copies += [f"{path.relative_to(QA)}: {m.group(0)}" for m in word_pattern.finditer(path.read_text())]
    assert copies == []


def test_the_tokenizers_and_the_overlap_measure() -> None:
    text = "Japan's PM, aged 64, met Lee Jae-myung in São Paulo; O'Brien didn't."
    assert words.words(text) == ["japan", "s", "pm", "aged", "64", "met", "lee", "jae", "myung", "in", "s", "o",
                                 "paulo", "o", "brien", "didn", "t"]
    assert words.tokens(text)[-6:] == ["são", "paulo", "o", "brien", "didn", "t"]
    assert words.tokens_with_apostrophes(text)[-4:] == ["são", "paulo", "o'brien", "didn't"]
    assert words.letters_and_digits("snake_case words") == ["snake", "case", "words"]
    assert words.tokens("snake_case") == ["snake_case"]
    assert not words.has_word(" —, ; ") and words.has_word("[1] Yes")
    assert words.overlap({"a", "b", "c"}, {"a", "b"}) == 1.0  # the share of the smaller set found in the other
    assert words.overlap({"a", "b"}, {"a", "c"}) == 0.5 and words.overlap(set(), {"a"}) == 0.0
    assert words.terms(["The ministers were meeting", ""]) == [{"minist", "were", "meet"}, set()]
    assert words.question_words("And what's next for Jae-myung?") == ["and", "what's", "next", "for", "jae-myung"]
    written = [m.group(0) for m in words.WRITTEN_WORD.finditer("O’Brien met Jae-myung.")]
    assert written == ["O’Brien", "met", "Jae-myung"]
    assert "may" in words.STOP_WORDS and "may" not in words.QUESTION_STOP_WORDS  # "May" stays a name in follow-ups
