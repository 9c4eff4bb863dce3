"""The specifications the code cites live in docs/, and every citation resolves.

A citation is `docs/<name>.md` followed by one or more section numbers (`docs/protocol.md §5.1`,
`docs/telegraf.md §1.2-§1.4 and §1.7`). Every cited file must exist and have every cited section
heading; a section sign with no document before it is ambiguous, except inside docs/, where it means
the same document. Nothing may point at the reference notes the docs were written from: they are
not in the repository.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCANNED_SUFFIXES = {".py", ".sh", ".toml", ".yml", ".yaml", ".md", ".example"}
SCANNED_NAMES = {"Dockerfile"}
SKIPPED_DIRS = {
    ".git",
    ".venv",
    "build",
    "dist",
    "test-artifacts",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
}
SECTION = r"§\d+(?:\.\d+)*"
CITATION = re.compile(rf"docs/([\w-]+)\.md((?:(?:\s*(?:,|-|–|/|\band\b|\bor\b))?\s*{SECTION})+)")
HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.M)
# The notes outside the repository (spelt in pieces so this file does not cite them itself).
OUTSIDE = ("lutron-protocol" + ".md", "telegraf-contract" + ".md", "shared" + "/docs")

# The numbering code cites; it must not change (add new sections after these instead).
FIXED_SECTIONS = {
    "protocol": {str(n) for n in range(1, 11)}
    | {f"5.{n}" for n in range(1, 6)}
    | {f"6.{n}" for n in range(1, 6)},
    "telegraf": {str(n) for n in range(1, 7)} | {f"1.{n}" for n in range(1, 8)} | {"4.1"},
}


def scanned_files() -> Iterator[Path]:
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder) / name
            if path == Path(__file__).resolve():  # its examples of bad citations are on purpose
                continue
            if path.suffix in SCANNED_SUFFIXES or name in SCANNED_NAMES:
                yield path


def sections(name: str) -> set[str]:
    path = DOCS / f"{name}.md"
    return set(HEADING.findall(path.read_text(encoding="utf-8"))) if path.is_file() else set()


def problems_in(rel: Path, text: str) -> list[str]:
    """What is wrong with the citations in `text`, the content of `rel` (relative to the checkout)."""
    in_docs = rel.parts[0] == "docs"
    found: list[str] = []

    def where(offset: int) -> str:
        return f"{rel}:{text.count(chr(10), 0, offset) + 1}"

    for outside in OUTSIDE:
        for m in re.finditer(re.escape(outside), text):
            found.append(f"{where(m.start())}: cites {outside}, which is not in the repository; cite docs/")
    cited_spans: list[tuple[int, int]] = []
    for m in CITATION.finditer(text):
        name = m.group(1)
        cited_spans.append((m.start(2), m.end(2)))
        if not (DOCS / f"{name}.md").is_file():
            found.append(f"{where(m.start())}: cites docs/{name}.md, which does not exist")
            continue
        have = sections(name)
        for number in re.findall(r"§(\d+(?:\.\d+)*)", m.group(2)):
            if number not in have:
                found.append(f"{where(m.start())}: cites docs/{name}.md §{number}, which has no such section")
    for m in re.finditer(SECTION, text):
        if any(start <= m.start() < end for start, end in cited_spans):
            continue
        if in_docs:  # a bare section sign inside a doc means that doc
            if m.group()[1:] not in sections(rel.stem):
                found.append(f"{where(m.start())}: refers to {m.group()}, which {rel} does not have")
        else:
            found.append(
                f"{where(m.start())}: {m.group()} without a document: write docs/protocol.md {m.group()} "
                f"or docs/telegraf.md {m.group()}"
            )
    return found


def test_every_citation_names_an_existing_document_and_section() -> None:
    texts = {
        path.relative_to(ROOT): path.read_text(encoding="utf-8", errors="replace") for path in scanned_files()
    }
    assert sum(len(CITATION.findall(text)) for text in texts.values()) >= 10  # the scan sees the code
    problems = [problem for rel, text in texts.items() for problem in problems_in(rel, text)]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("name", sorted(FIXED_SECTIONS))
def test_the_cited_numbering_is_intact(name: str) -> None:
    missing = FIXED_SECTIONS[name] - sections(name)
    assert not missing, f"docs/{name}.md lost sections {sorted(missing)}: code cites them"


def test_the_checker_catches_bad_citations() -> None:
    text = "x = 1  # docs/protocol.md §5.9, docs/nothing.md §1\n# alone: §2\n# " + OUTSIDE[0] + "\n"
    found = problems_in(Path("telegraf_lutron/x.py"), text)
    assert any("docs/protocol.md §5.9, which has no such section" in p for p in found), found
    assert any("docs/nothing.md, which does not exist" in p for p in found), found
    assert any("§2 without a document" in p for p in found), found
    assert any("not in the repository" in p for p in found), found
    assert len(found) == 4, found


def test_the_checker_accepts_lists_and_ranges() -> None:
    text = "see docs/telegraf.md §1.2-§1.4 and §1.7; docs/protocol.md §1, §4 and §6.4 (docs/protocol.md §5.1/§5.2)"
    assert problems_in(Path("tests/x.py"), text) == []
    assert problems_in(Path("docs/protocol.md"), "as in §6.5") == []
    assert problems_in(Path("docs/protocol.md"), "as in §6.9") != []
