"""Submission archives: one deterministic .tar.gz per submission, named by its sha256.

An archive holds exactly what a submission is (results.json, config.json, summary.md, model_meta.json,
predictions/*.jsonl, images/<task>__<split>/*.png) at its top level. Writing it is deterministic (sorted
members, mtime 0, uid/gid 0, no user names, fixed modes, gzip header mtime 0), so the same submission
gives the same sha256 with the same zlib. Reading treats it as untrusted: the size and sha256 are
checked against the index before it is opened, and every member must be a regular file whose path
passes `common.check_relpath` and `common.allowed_file`; otherwise nothing is extracted.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from leaderboard.common import MAX_SUBMISSION_BYTES, Problem, allowed_file, check_relpath

ARCHIVES_DIR = "archives"       # default place of the archives, beside index.jsonl (not in git)
CACHE_DIR = "cache"             # default place of extracted archives (not in git)
SUFFIX = ".tar.gz"
CHUNK = 1 << 20


def archive_name(sha256: str) -> str:
    return f"{sha256}{SUFFIX}"


def row_archive(archives_dir: Path, row: dict) -> Path:
    """Where an index row's archive lives in `archives_dir` (present or not)."""
    return Path(archives_dir) / archive_name(row["archive"]["sha256"])


def sha256_and_size(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
            n += len(block)
    return h.hexdigest(), n


def write_archive(members: list[tuple[str, Path | bytes]], out_dir: str | Path) -> tuple[str, int, Path]:
    """Write `members` ((relative name, file path or content)) as ``<out_dir>/<sha256>.tar.gz``
    atomically; returns (sha256, size, path). An existing archive of the same sha256 is kept."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".archive.", suffix=".tmp", dir=out_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, src in sorted(members, key=lambda m: m[0]):
                data = src if isinstance(src, bytes) else Path(src).read_bytes()
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
        sha, size = sha256_and_size(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; archives are meant to be published
        dest = out_dir / archive_name(sha)
        if dest.exists():
            tmp.unlink()
        else:
            os.replace(tmp, dest)
        return sha, size, dest
    finally:
        if tmp.exists():
            tmp.unlink()


def check_archive_file(path: Path, sha256: str, size: int, sub: str) -> list[Problem]:
    """The file at `path` must have exactly the size and sha256 the index names (size first: cheap)."""
    try:
        actual_size = os.lstat(path).st_size
    except OSError:
        return [Problem(sub, "archive", f"{path} not found")]
    if not path.is_file() or path.is_symlink():
        return [Problem(sub, "archive", f"{path} is not a regular file")]
    if actual_size != size:
        return [Problem(sub, "archive.size", f"{path} is {actual_size} bytes, the index says {size}; refused")]
    actual_sha, _ = sha256_and_size(path)
    if actual_sha != sha256:
        return [Problem(sub, "archive.sha256", f"{path} has sha256 {actual_sha}, the index says {sha256}; refused")]
    return []


def member_problems(tar: tarfile.TarFile, sub: str, max_bytes: int = MAX_SUBMISSION_BYTES) -> list[Problem]:
    """Why the archive's members are not a submission: links, devices, unsafe or unexpected paths,
    duplicates, total size. Empty when every member is an allowed regular file."""
    problems: list[Problem] = []
    names: set[str] = set()
    total = 0
    for m in tar.getmembers():
        where = f"archive:{m.name}"
        if m.issym() or m.islnk():
            problems.append(Problem(sub, where, "symbolic links and hard links are not allowed in a submission archive"))
        elif m.isdir():
            if why := check_relpath(m.name.rstrip("/")):
                problems.append(Problem(sub, where, why))
        elif not m.isfile():
            problems.append(Problem(sub, where, "not a regular file"))
        elif why := check_relpath(m.name):
            problems.append(Problem(sub, where, why))
        elif not allowed_file(m.name):
            problems.append(Problem(sub, where, "unexpected file: a submission holds only results.json, model_meta.json, "
                                    "config.json, summary.md, predictions/<task>__<split>.jsonl and images/<task>__<split>/<name>.png"))
        elif m.name in names:
            problems.append(Problem(sub, where, "duplicate member"))
        else:
            names.add(m.name)
            total += m.size
    if total > max_bytes:
        problems.append(Problem(sub, "(size)", f"archive holds {total} bytes, over the limit of {max_bytes} bytes"))
    return problems


def extract_archive(path: Path, dest: str | Path, sub: str, max_bytes: int = MAX_SUBMISSION_BYTES) -> list[Problem]:
    """Extract a checked archive into the new folder `dest` (which must not exist). On any problem,
    nothing is left behind and the problems are returned."""
    dest = Path(dest)
    if dest.exists() or dest.is_symlink():
        return [Problem(sub, "archive", f"{dest} already exists")]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        try:
            with tarfile.open(path, mode="r:gz") as tar:
                problems = member_problems(tar, sub, max_bytes)
                if problems:
                    return problems
                files = [m for m in tar.getmembers() if m.isfile()]
                # filter="data" refuses anything outside `tmp` again, as a second line of defence
                tar.extractall(tmp, members=files, filter="data")
        except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as e:
            return [Problem(sub, "archive", f"cannot read {path.name}: {type(e).__name__}: {e}")]
        os.rename(tmp, dest)
        return []
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _download(url: str, size: int, dest: Path) -> None:
    """Copy `url` to `dest`, refusing more than `size` bytes (the index's size)."""
    req = urllib.request.Request(url, headers={"User-Agent": "unimp-bench-leaderboard"})
    with urllib.request.urlopen(req, timeout=60) as r, open(dest, "wb") as f:  # noqa: S310 - http(s) only, checked by the caller
        got = 0
        while block := r.read(CHUNK):
            got += len(block)
            if got > size:
                raise ValueError(f"{url} is larger than the {size} bytes the index names")
            f.write(block)


def fetch_archive(source: str, sha256: str, size: int, archives_dir: Path, sub: str) -> tuple[Path | None, list[Problem]]:
    """Make ``<archives_dir>/<sha256>.tar.gz`` hold the archive the index names, copying it from
    `source` (a local folder, or an http(s) base URL) when absent; checked before it is kept."""
    name = archive_name(sha256)
    dest = Path(archives_dir) / name
    if dest.exists() and not check_archive_file(dest, sha256, size, sub):
        return dest, []
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".fetch.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if source.startswith(("https://", "http://")):
            url = source.rstrip("/") + "/" + name
            try:
                _download(url, size, tmp)
            except (urllib.error.URLError, OSError, ValueError) as e:
                return None, [Problem(sub, "archive", f"cannot fetch {url}: {e}")]
        else:
            src = Path(source) / name
            if not src.is_file() or src.is_symlink():
                return None, [Problem(sub, "archive", f"{src} not found")]
            if src.stat().st_size != size:
                return None, [Problem(sub, "archive.size", f"{src} is {src.stat().st_size} bytes, the index says {size}; refused")]
            shutil.copyfile(src, tmp)
        problems = check_archive_file(tmp, sha256, size, sub)
        if problems:
            return None, problems
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return dest, []
    finally:
        if tmp.exists():
            tmp.unlink()
