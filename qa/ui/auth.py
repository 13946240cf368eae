"""Optional login for the app: ``QA_AUTH`` is ``user:pass[,user2:pass2]`` or a path to a file of such lines."""

from __future__ import annotations

from pathlib import Path


def parse_auth(spec: str | None) -> list[tuple[str, str]] | None:
    """``[(user, password), ...]`` for ``gradio.launch(auth=...)``, or None when no login is configured.

    A file holds one ``user:password`` per line (blank lines and ``#`` comments ignored). Raises ValueError
    with a message naming the problem (never echoing a password).
    """
    spec = (spec or "").strip()
    if not spec:
        return None
    path = Path(spec).expanduser()
    if path.is_file():
        try:
            entries = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read the auth file {path}: {error}") from error
        where = f"auth file {path}"
    elif ":" not in spec:
        raise ValueError(f"auth {spec!r} is neither user:password pairs nor an existing file")
    else:
        entries = spec.split(",")
        where = "QA_AUTH"
    pairs: list[tuple[str, str]] = []
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError(f"entry {number} of {where} is not user:password")
        pairs.append((user.strip(), password))
    if not pairs:
        raise ValueError(f"{where} lists no user:password pairs")
    return pairs
