"""The repository stands alone: no tracked file names a path outside it, no code climbs above its root.

A user clones only this repository, so every sample, guide and default path must live inside it.
The patterns are assembled from pieces so that this file does not match itself.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 1_000_000  # larger tracked files are data, not text anyone reads

SIBLING = "../" + "shared"  # the reference folder developers keep beside the checkout
# absolute folders of one machine: a workspace and users' home folders
MACHINE_PATH = re.compile(r"(?<![\w.~$-])/(?:" + "|".join(["wo" + "rk", "ho" + "me", "ro" + "ot", "Us" + "ers"]) + r")/")
TMP_PATH = re.compile(r"(?<![\w.~$-])/" + "tmp" + r"\b")  # a hard-coded temp folder; tests may use one
CLIMB = re.compile(r"__file__\)(?:\.resolve\(\)|\.absolute\(\))?((?:\.parents\[\d+\]|\.parent\b)+)")
SHARED_JOIN = re.compile(r"""\.parent\s*/\s*["']""" + "shared" + r"""["']""")


def tracked_text_files() -> dict[str, str]:
    """{path: text} of every git-tracked file under MAX_BYTES that decodes as UTF-8 without NUL bytes."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    out = {}
    for name in names.decode().split("\0"):
        path = REPO / name
        if not name or not path.is_file() or path.stat().st_size > MAX_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            out[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return out


def is_test(name: str) -> bool:
    return name.startswith("tests/") or name == "conftest.py"


def hits(text: str, pattern: re.Pattern | str) -> list[str]:
    """'line: text' for each line of `text` where `pattern` (regex or literal) occurs."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if (pattern in line) if isinstance(pattern, str) else pattern.search(line):
            found.append(f"{number}: {line.strip()[:120]}")
    return found


@pytest.fixture(scope="module")
def files():
    got = tracked_text_files()
    assert "README.md" in got and len(got) > 100  # the scan saw the repository
    return got


def test_no_tracked_file_names_a_path_outside_the_repo(files):
    problems = []
    for name, text in files.items():
        for pattern in (SIBLING, MACHINE_PATH) if is_test(name) else (SIBLING, MACHINE_PATH, TMP_PATH):
            problems += [f"{name}:{hit}" for hit in hits(text, pattern)]
    assert not problems, "paths outside the repository:\n" + "\n".join(problems)


def test_no_code_climbs_above_the_repo_root(files):
    problems = []
    for name, text in files.items():
        if not name.endswith(".py"):
            continue
        depth = name.count("/")  # parents[depth] of this file is the repository root
        for number, line in enumerate(text.splitlines(), 1):
            for match in CLIMB.finditer(line):
                ups = sum(int(k) + 1 for k in re.findall(r"parents\[(\d+)\]", match.group(1)))
                ups += len(re.findall(r"\.parent\b", match.group(1)))
                if ups > depth + 1:
                    problems.append(f"{name}:{number}: {line.strip()} (goes {ups - depth - 1} above the root)")
            if SHARED_JOIN.search(line):
                problems.append(f"{name}:{number}: {line.strip()}")
    assert not problems, "code reading above the repository root:\n" + "\n".join(problems)


def test_the_guards_catch_what_they_are_for():
    """The patterns themselves, on lines like the ones this repository once had."""
    assert hits("SAMPLES = ROOT / '" + SIBLING + "/samples'", SIBLING)
    assert hits("see " + SIBLING + "/guides/dependencies.md", SIBLING)
    for bad in ('open("/wo' 'rk/main/x")', "'/ho" "me/me/data'", "/ro" "ot/.cache/x", 'Path("/t' 'mp/out")', "--workdir /t" "mp/x"):
        assert hits(bad, MACHINE_PATH) or hits(bad, TMP_PATH), bad
    for fine in ("https://example.com/work/a", "~/amazon2014", "$HOME/x", "tmp_path / 'x'", "a/tmp/b", "/workspace"):
        assert not hits(fine, MACHINE_PATH) and not hits(fine, TMP_PATH), fine
    climb = "SAMPLES = Path(__file__).resolve().parents[1]" + ".parent / " + '"shared" / "samples"'
    ups = [m.group(1) for m in CLIMB.finditer(climb)]
    assert ups == [".parents[1].parent"] and SHARED_JOIN.search(climb)
