"""Integrity on every use: a prepared dataset's files checked against its manifest when it is opened.

The whole dataset is verified once, on open (`PreparedDataset.__init__`), rather than each file as it is
read: models also open item images by path, and a run is stamped with the dataset sha256, which vouches
for every file. Hashing is cached in `<dataset>/.verify-cache.json` (and in memory, for read-only folders),
one entry per file keyed by its (size, mtime_ns, ctime_ns); a file whose key changed is hashed again.
ctime cannot be set back by `os.utime`, so an edit that keeps the size and restores the mtime is still
caught; only someone who can also reset the clock or forge the cache (i.e. who owns the folder) gets past
the cache, and deleting the cache file forces a full re-hash. The cache holds facts about files, never
a verdict: every check compares against the manifest.
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from benchmark.data import layout
from benchmark.data.errors import IntegrityError
from benchmark.data.io import sha256_file, write_json
from benchmark.data.manifest import dataset_sha256

CACHE_VERSION = 1
_memo: dict[Path, dict[str, list]] = {}  # resolved root -> {rel: [size, mtime_ns, ctime_ns, sha256]}


def manifest_files(root: Path, manifest: dict) -> dict[str, str]:
    """The manifest's {relative path: sha256}, after checking that its dataset_sha256 is that of this list."""
    where = Path(root) / layout.MANIFEST
    files, claimed = manifest.get("files"), manifest.get("dataset_sha256")
    labels = manifest.get("labels")
    if not isinstance(files, dict) or not files or not isinstance(claimed, str):
        raise IntegrityError(where, "no file list or dataset_sha256; not written by `unimp-bench prepare`")
    if labels is not None and not isinstance(labels, dict):
        raise IntegrityError(where, "\"labels\" must be a list of {relative path: sha256}")
    actual = dataset_sha256(files, labels)
    if actual != claimed:
        raise IntegrityError(where, f"dataset_sha256 {claimed} does not match its own file list, "
                                    f"which gives {actual} (manifest edited?)")
    check_entries(where, files)
    check_entries(where, labels or {})
    return files


def check_entries(where: Path, files: dict) -> None:
    """Every entry a plain relative path (no absolute path, no `..`) with a sha256 string: a file list can
    never name anything outside its folder."""
    for rel, digest in files.items():
        parts = PurePosixPath(rel).parts
        if not isinstance(digest, str) or PurePosixPath(rel).is_absolute() or ".." in parts or not parts:
            raise IntegrityError(where, f"bad file entry {rel!r}: {digest!r}")


def verify(root: Path, files: dict[str, str]) -> None:
    """Raise IntegrityError naming the first file (in path order) that is missing or whose sha256 is not
    the manifest's, with both hashes."""
    root = Path(root)
    key = root.resolve()
    cache = _memo.get(key) or _load_cache(root)
    hashed = 0
    try:
        for rel, expected in sorted(files.items()):
            path = root / rel
            try:
                st = path.stat()
            except FileNotFoundError:
                raise IntegrityError(path, "listed in the manifest but missing") from None
            stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
            entry = cache.get(rel)
            if isinstance(entry, list) and len(entry) == 4 and entry[:3] == stamp:
                actual = entry[3]
            else:
                actual = sha256_file(path)
                cache[rel] = stamp + [actual]
                hashed += 1
            if actual != expected:
                raise IntegrityError(path, f"sha256 mismatch: expected {expected} (manifest), actual {actual}; "
                                           "the file changed after prepare")
    finally:
        _memo[key] = cache
        if hashed:
            _save_cache(root, {rel: cache[rel] for rel in files if rel in cache})


def _load_cache(root: Path) -> dict[str, list]:
    try:
        doc = json.loads((root / layout.VERIFY_CACHE).read_text())
    except (OSError, ValueError):
        return {}
    ok = isinstance(doc, dict) and doc.get("version") == CACHE_VERSION and isinstance(doc.get("files"), dict)
    return dict(doc["files"]) if ok else {}


def _save_cache(root: Path, entries: dict[str, list]) -> None:
    try:
        write_json(root / layout.VERIFY_CACHE, {"version": CACHE_VERSION, "files": entries})
    except OSError:  # a read-only dataset is verified all the same, just not cached across processes
        pass
