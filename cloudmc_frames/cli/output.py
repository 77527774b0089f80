"""Where a command writes: standard output or ``--out PATH``, in a format the path's suffix names.

Paths are checked before anything is read, so a crawl is never thrown away for a typo.

Example::

    >>> choose_format(None, "report.html", ("text", "html"))
    'html'
    >>> choose_format(None, None, ("text", "html"))
    'text'
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ConfigError

EXIT_OK, EXIT_FAILURE, EXIT_PARTIAL = 0, 1, 2
SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".csv": "csv",
            ".json": "json", ".html": "html", ".htm": "html"}


def choose_format(fmt: str | None, out: str | None, formats: tuple[str, ...]) -> str:
    """``--format``, else the one ``--out``'s suffix names, else ``text``; a clash is a ConfigError."""
    implied = SUFFIXES.get(Path(out).suffix.lower()) if out else None
    if fmt is None:
        if out and implied is None:
            raise ConfigError(f"cannot tell the format from {out!r}: end it with one of "
                              f"{', '.join(s for s, f in SUFFIXES.items() if f in formats)} or pass --format")
        fmt = implied or formats[0]
    elif implied is not None and implied != fmt:
        raise ConfigError(f"--format {fmt} but --out {out} says {implied}: drop --format, or name the "
                          f"file for {fmt}")
    if fmt not in formats:
        raise ConfigError(f"this command writes {', '.join(formats)}, not {fmt}")
    return fmt


def check_file(out: str | None) -> None:
    """ConfigError unless ``out`` can be written as a file (its folder exists and is writable)."""
    if out is None:
        return
    path = Path(out)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"--out {out} is a folder: name a file inside it")
    if not folder.is_dir():
        raise ConfigError(f"cannot write {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"cannot write {out}: permission denied")


def check_folder(out: str) -> None:
    """ConfigError unless ``out`` is a writable folder, or one that can be created."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out} is a file: name a folder (it is created when missing)")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ConfigError(f"cannot create {out}: {existing} is a file")
    if not os.access(existing, os.W_OK):
        raise ConfigError(f"cannot write into {existing}: permission denied")


def write(text: str, out: str | None) -> None:
    """``text`` to standard output, or to ``out`` (and say so on standard error)."""
    if out is None:
        sys.stdout.write(text)
        return
    Path(out).write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
