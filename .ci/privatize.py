"""Move qwen3_rag's implementation modules behind underscores and rewrite every reference.

Idempotent: run it again after merging work written against the old module names, and it moves
any module that reappeared under an old name and rewrites the new imports. Usage, from the
repository root: ``python .ci/privatize.py``.

The layout it enforces (docs/api.md lists the public names):
- ``qwen3_rag/runtime/``                          -> ``qwen3_rag/_runtime/`` (modules keep names)
- ``qwen3_rag/{pipeline,server,evaluation}/X.py`` -> ``.../_X.py``
- ``qwen3_rag/{cli,errors,prompts,ranking}.py``   -> ``qwen3_rag/_X.py``
``qwen3_rag.testing`` and the three packages' ``__init__``/``__main__`` stay where they are.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qwen3_rag"
PRIVATE_TOP = ("cli", "errors", "prompts", "ranking")
SUBPACKAGES = ("pipeline", "server", "evaluation")
# Files that name the old paths on purpose (the deprecation map, its docs and tests).
MENTION_OLD_PATHS = {"qwen3_rag/_deprecated.py", "docs/api.md", "tests/test_public_api.py"}
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".sh", ".txt", ".yml", ".yaml"}


def git_mv(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "mv", str(src), str(dst)], check=True, cwd=ROOT)


def move_modules() -> dict[str, list[str]]:
    """Move the files; return each subpackage's module names (without underscores)."""
    old_runtime = PACKAGE / "runtime"
    if old_runtime.exists():
        for src in sorted(old_runtime.rglob("*")):
            if src.is_file() and "__pycache__" not in src.parts:
                git_mv(src, PACKAGE / "_runtime" / src.relative_to(old_runtime))
    for name in PRIVATE_TOP:
        if (PACKAGE / f"{name}.py").exists():
            git_mv(PACKAGE / f"{name}.py", PACKAGE / f"_{name}.py")
    modules: dict[str, list[str]] = {}
    for sub in SUBPACKAGES:
        names = []
        for src in sorted((PACKAGE / sub).glob("*.py")):
            stem = src.stem
            if stem.startswith("__"):
                continue
            if not stem.startswith("_"):
                git_mv(src, src.with_name(f"_{stem}.py"))
            names.append(stem.lstrip("_"))
        modules[sub] = names
    return modules


Rule = tuple[re.Pattern[str], str, str]  # pattern, replacement, where ("" = everywhere)


def rewrite_rules(modules: dict[str, list[str]]) -> list[Rule]:
    """Where: "" for every file, "top" for qwen3_rag/*.py, "sub" for qwen3_rag/<package>/*.py,
    or "qwen3_rag/<package>" for that package's own modules."""
    rules: list[Rule] = []
    for name in (*PRIVATE_TOP, "runtime"):
        rules.append((re.compile(rf"\bqwen3_rag([./]){name}\b"), rf"qwen3_rag\1_{name}", ""))
        rules.append((re.compile(rf"(from \.){name}\b"), rf"\1_{name}", "top"))
        rules.append((re.compile(rf"(from \.\.){name}\b"), rf"\1_{name}", "sub"))
    for sub, names in modules.items():
        alternatives = "|".join(sorted(names, key=len, reverse=True))
        rules.append(
            (re.compile(rf"\bqwen3_rag([./]){sub}\1({alternatives})\b"), rf"qwen3_rag\1{sub}\1_\2", "")
        )
        rules.append((re.compile(rf"(from \.)({alternatives})\b"), r"\1_\2", f"qwen3_rag/{sub}"))
        rules.append(
            (re.compile(rf"(from qwen3_rag\.{sub} import )({alternatives})\b"), r"\1_\2 as \2", "")
        )
        # ``from .pipeline.store`` in qwen3_rag/*.py, ``from ..pipeline.store`` one level down.
        rules.append((re.compile(rf"(from \.{sub}\.)({alternatives})\b"), r"\1_\2", "top"))
        rules.append((re.compile(rf"(from \.\.{sub}\.)({alternatives})\b"), r"\1_\2", "sub"))
        rules.append(
            (re.compile(rf"(from \. import )({alternatives})\b"), r"\1_\2 as \2", f"qwen3_rag/{sub}")
        )
    return rules


def applies(where: str, relative: str) -> bool:
    if where == "":
        return True
    parts = relative.split("/")
    if where == "top":
        return len(parts) == 2 and parts[0] == "qwen3_rag"
    if where == "sub":
        return len(parts) == 3 and parts[0] == "qwen3_rag"
    return relative.startswith(where + "/") and relative.count("/") == 2


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    return [ROOT / p for p in listed if Path(p).suffix in TEXT_SUFFIXES and (ROOT / p).is_file()]


def main() -> None:
    modules = move_modules()
    rules = rewrite_rules(modules)
    this_file = Path(__file__).resolve()
    changed = 0
    for path in tracked_text_files():
        if path.resolve() == this_file or path.relative_to(ROOT).as_posix() in MENTION_OLD_PATHS:
            continue
        relative = path.relative_to(ROOT).as_posix()
        text = original = path.read_text(encoding="utf-8")
        for pattern, replacement, where in rules:
            if applies(where, relative):
                text = pattern.sub(replacement, text)
        if text != original:
            path.write_text(text, encoding="utf-8")
            changed += 1
    print(f"rewrote {changed} files")


if __name__ == "__main__":
    main()
