"""Every code snippet in the READMEs runs (or parses), so the documentation cannot drift.

* Each fenced ```python block of README.md and of every ``integrations/*/README.md`` is one test
  case (id: ``README path::heading``, with ``#n`` when a section holds several). It runs as a
  script in a subprocess, as a user would paste it: the cwd is a fresh temporary folder (so
  ``QdrantStore("qwen3_rag")``'s embedded store, ``./.qwen3-rag/qdrant``, lands there), the Hub
  is switched off (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``) and ``QDRANT_URL`` is unset.
  The exit status must be 0.
* The only edits made to a block before it runs are the ones in ``SUBSTITUTIONS``: the Hub ids
  become the tiny random-weight checkpoints. ``./docs`` needs no edit: the cwd holds a ``docs``
  folder (``DOCS``).
* Blocks that continue an earlier block of the same section run joined into one script; they are
  listed in ``JOINED`` (none today: every block stands on its own).
* A block that cannot run here is marked in its README by ``<!-- readme-test: skip (reason) -->``
  on the line before its fence, and must be listed in ``SKIPPED`` with the same reason; both
  directions are checked, so a skip is never silent.
* Every ``qwen3-rag ...`` line of the other (shell) blocks must parse with the CLI's argparse. A
  line whose ``...`` elides syntax (outside quotes) is a placeholder and is skipped; ``"..."`` as a
  quoted argument (a question) parses like any other string.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# docs/frameworks.md: the frameworks' flows end to end, run like the READMEs.
READMES = [
    ROOT / "README.md",
    *sorted(ROOT.glob("integrations/*/README.md")),
    ROOT / "docs" / "frameworks.md",
]

# Sections whose python blocks are one program split by prose: run them joined, in order.
# Key: (README path relative to the repository root, heading). None today.
JOINED: frozenset[tuple[str, str]] = frozenset()

# Blocks marked `<!-- readme-test: skip (reason) -->` in a README: case id -> the same reason.
SKIPPED: dict[str, str] = {}

# The documented, minimal edits made to a python block before it runs ({name} from the fixtures).
SUBSTITUTIONS = {
    '"Qwen/Qwen3-Embedding-0.6B"': "{embedding}",
    '"Qwen/Qwen3-Reranker-0.6B"': "{reranker}",
}

# What a block must print besides exiting with 0: case id -> text ({name} as in SUBSTITUTIONS).
# The filter example finds its file by the absolute, symlink-resolved path.
_LANGCHAIN = "docs/frameworks.md::LangChain: documents with metadata in, filtered search, rerank"
_LLAMA_INDEX = "docs/frameworks.md::LlamaIndex: an index from documents with metadata, filtered query, rerank"
EXPECTED_STDOUT = {
    "README.md::The main job": "{ops}",
    f"{_LANGCHAIN}#1": "wiki/rotate-keys",
    f"{_LANGCHAIN}#2": "'num_deleted': 2",
    f"{_LLAMA_INDEX}#1": "wiki/rotate-keys",
    f"{_LLAMA_INDEX}#2": "[('ops', 1)]",
}

# The `./docs` folder in the cwd of every block.
DOCS = {
    "ops.md": "# Operations\n\nTo rotate the API key, open Settings, then Keys, and press Rotate.\n",
    "faq.txt": "Paris is the capital of France. Bananas are yellow.\n",
}

_MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
_SKIP = re.compile(r"skip \((.+)\)")
_HEADING = re.compile(r"#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Block:
    readme: str  # relative to the repository root
    heading: str
    lang: str
    code: str
    line: int  # of the opening fence, 1-based
    skip: str | None  # the reason of a readme-test skip marker


def parse_blocks(path: Path) -> list[Block]:
    """The fenced blocks of one markdown file, with their section heading and skip marker."""
    readme = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    heading, previous = "", ""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            lang, start, body = stripped[3:].strip().lower(), i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{readme}:{start}: unclosed code fence")
            skip = None
            marker = _MARKER.search(previous)
            if marker:
                match = _SKIP.fullmatch(marker.group(1))
                if match is None:
                    raise ValueError(
                        f"{readme}:{start}: unknown marker {marker.group(0)!r}; "
                        "the only one is <!-- readme-test: skip (reason) -->"
                    )
                if lang != "python":
                    raise ValueError(f"{readme}:{start}: only python blocks run, so only they can be skipped")
                skip = match.group(1)
            blocks.append(Block(readme, heading, lang, "\n".join(body) + "\n", start, skip))
            previous = ""
        else:
            found = _HEADING.fullmatch(line)
            if found:
                heading = found.group(1)
            if stripped:
                previous = stripped
        i += 1
    return blocks


BLOCKS = [block for path in READMES for block in parse_blocks(path)]


def python_cases() -> list[tuple[str, list[Block]]]:
    """(case id, blocks run as one script), in README order."""
    sections: dict[tuple[str, str], list[Block]] = {}
    for block in BLOCKS:
        if block.lang == "python":
            sections.setdefault((block.readme, block.heading), []).append(block)
    cases = []
    for (readme, heading), blocks in sections.items():
        case = f"{readme}::{heading}"
        if (readme, heading) in JOINED or len(blocks) == 1:
            cases.append((case, blocks))
        else:
            cases.extend((f"{case}#{n}", [block]) for n, block in enumerate(blocks, 1))
    return cases


PYTHON_CASES = python_cases()


def _skip_reason(blocks: list[Block]) -> str | None:
    return next((b.skip for b in blocks if b.skip), None)


def _params() -> list[Any]:
    params = []
    for case, blocks in PYTHON_CASES:
        reason = _skip_reason(blocks)
        marks = [pytest.mark.skip(reason=f"README marker: {reason}")] if reason else []
        params.append(pytest.param(blocks, id=case, marks=marks))
    return params


@pytest.fixture
def block_cwd(tmp_path: Path) -> Path:
    cwd = tmp_path / "cwd"
    (cwd / "docs").mkdir(parents=True)
    for name, text in DOCS.items():
        (cwd / "docs" / name).write_text(text, encoding="utf-8")
    return cwd


def substitute(code: str, values: dict[str, str]) -> str:
    for old, new in SUBSTITUTIONS.items():
        code = code.replace(old, repr(new.format(**values)))
    return code


@pytest.mark.parametrize("blocks", _params())
def test_python_block_runs(
    blocks: list[Block],
    block_cwd: Path,
    tiny_embedding_path: str,
    tiny_reranker_path: str,
    request: pytest.FixtureRequest,
) -> None:
    values = {
        "embedding": tiny_embedding_path,
        "reranker": tiny_reranker_path,
        "ops": str((block_cwd / "docs" / "ops.md").resolve()),
    }
    code = "".join(substitute(b.code, values) for b in blocks)
    where = ", ".join(f"{b.readme}:{b.line}" for b in blocks)
    assert "Qwen/Qwen3-" not in code, f"{where}: a Hub id with no tiny stand-in in SUBSTITUTIONS"
    script = block_cwd / "readme_block.py"
    script.write_text(code, encoding="utf-8")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    for name in ("QDRANT_URL", "QDRANT_API_KEY", "NLTK_DATA", "TIKTOKEN_CACHE_DIR"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, script.name], cwd=block_cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (
        f"README snippet at {where} failed (exit {done.returncode}):\n{code}\n"
        f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-6000:]}"
    )
    expected = EXPECTED_STDOUT.get(request.node.callspec.id)
    if expected is not None:
        assert expected.format(**values) in done.stdout, f"{where}: stdout lacks {expected!r}:\n{done.stdout}"


def test_skips_are_listed_and_joins_exist() -> None:
    marked = {case: _skip_reason(blocks) for case, blocks in PYTHON_CASES if _skip_reason(blocks)}
    assert marked == SKIPPED, "README skip markers and SKIPPED in tests/docs/test_readme.py disagree"
    sections = {(b.readme, b.heading) for b in BLOCKS if b.lang == "python"}
    assert sections >= JOINED, f"JOINED names sections without python blocks: {JOINED - sections}"
    snippets = "".join(b.code for b in BLOCKS if b.lang == "python")
    unused = [old for old in SUBSTITUTIONS if old not in snippets]
    assert not unused, f"SUBSTITUTIONS no README snippet needs any more: {unused}"
    stale = set(EXPECTED_STDOUT) - {case for case, _ in PYTHON_CASES}
    assert not stale, f"EXPECTED_STDOUT names cases that do not exist: {stale}"
    assert len(PYTHON_CASES) >= 4 and CLI_LINES, "the README parser found (almost) nothing"


def cli_lines() -> list[tuple[str, str]]:
    """(case id, command line) of every `qwen3-rag ...` line in the non-python blocks."""
    out = []
    for block in BLOCKS:
        if block.lang not in ("", "bash", "sh", "shell", "console"):
            continue
        for line in block.code.replace("\\\n", " ").splitlines():
            command = line.strip().removeprefix("$ ")
            if command.startswith("qwen3-rag "):
                shown = " ".join(re.sub(r"\s#\s.*$", "", command).split())  # the id: no comment
                out.append((f"{block.readme}::{block.heading}::{shown}", command))
    return out


CLI_LINES = cli_lines()


def _is_placeholder(command: str) -> bool:
    """``...`` standing for elided syntax (outside quotes), not a quoted ``"..."`` argument."""
    return "..." in re.sub(r"\"[^\"]*\"|'[^']*'", "", command)


def _cli_params() -> list[Any]:
    placeholder = [pytest.mark.skip(reason="placeholder '...' in the command")]
    return [
        pytest.param(command, id=case, marks=placeholder if _is_placeholder(command) else [])
        for case, command in CLI_LINES
    ]


@pytest.mark.parametrize("command", _cli_params())
def test_cli_line_parses(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from qwen3_rag._cli import build_parser

    argv = shlex.split(command, comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"`{command}` does not parse: {capsys.readouterr().err.strip()}") from exc


# ------------------------------------------------ install lines cover the imports
def _installed_names(section: str) -> set[str]:
    """Distribution names the ``pip install`` lines of a README section install (local paths: the
    project folder's name, which is its distribution's name)."""
    names: set[str] = set()
    for line in re.findall(r"pip install ([^`\n]+)", section):
        for word in shlex.split(line):
            if word.startswith("-"):
                continue
            names.add(re.split(r"[\[<>=]", word.rstrip("/").split("/")[-1])[0].lower().replace("_", "-"))
    return names


def _closure(names: set[str]) -> set[str]:
    """``names`` and everything they require (base requirements, any extra), transitively."""
    import importlib.metadata as md

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-"))
    return seen


def _sections(path: Path) -> dict[str, str]:
    text, found, heading = path.read_text(encoding="utf-8"), {}, ""
    for part in re.split(r"^(## .+)$", text, flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
        else:
            found[heading] = found.get(heading, "") + part
    return found


@pytest.mark.slow
def test_each_sections_install_line_installs_what_its_snippets_import() -> None:
    """`No module named 'langchain_classic'` after the documented install was a README bug."""
    import importlib.metadata as md

    providers = md.packages_distributions()
    for heading, section in _sections(ROOT / "README.md").items():
        installed = _installed_names(section)
        if not installed:
            continue
        available = _closure(installed | {"qwen3-rag"})
        for module in re.findall(r"^(?:from|import) ([A-Za-z_]\w*)", section, flags=re.M):
            dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
            if module in sys.stdlib_module_names or not dists:
                continue
            assert dists & available, f"README '{heading}': `{module}` is not installed by its pip line(s)"
