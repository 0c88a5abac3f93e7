"""Download product images named by raw item id: resumable, retried, failures reported.

Each image is written atomically to `<out_dir>/<raw_id>.<ext>` (ext from the file's magic bytes), so
a file that exists is complete and a second run fetches only what is missing. Server errors (5xx,
408, 429), timeouts and dropped connections are retried with exponential backoff; other HTTP errors
(404, 403, ...) and non-image answers are not. `<out_dir>/_failures.json` lists this run's failures.
"""
from __future__ import annotations

import http.client
import importlib
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from benchmark.data.errors import SkipReport
from benchmark.data.images import file_stem, find_image_file
from benchmark.data.io import write_bytes, write_json
from benchmark.data.sources import RELEASES
from benchmark.data.sources.table import read_items

FAILURES = "_failures.json"
MAX_BYTES = 20 << 20  # an answer larger than this is not a product photo
USER_AGENT = "unimp-bench-image-downloader/0.1"
RETRY_STATUS = {408, 429}  # plus every 5xx
_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF87a", ".gif"), (b"GIF89a", ".gif"))


@dataclass
class DownloadReport:
    requested: int = 0
    present: int = 0      # already complete in out_dir: skipped
    downloaded: int = 0
    failed: list[dict] = field(default_factory=list)  # {"id", "url", "error", "attempts"}, sorted by id

    def to_json(self) -> dict:
        return {"requested": self.requested, "present": self.present, "downloaded": self.downloaded, "failed": len(self.failed)}


class _Retryable(Exception):
    pass


def image_extension(data: bytes) -> str | None:
    """".jpg", ".png", ".gif" or ".webp" from the leading bytes; None when it is not one of them."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def _get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as e:
        if e.code >= 500 or e.code in RETRY_STATUS:
            raise _Retryable(f"HTTP {e.code}") from e
        raise ValueError(f"HTTP {e.code}") from e
    except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise _Retryable(f"{type(e).__name__}: {reason}") from e
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    return data


def _fetch(raw_id: str, url: str, out_dir: Path, retries: int, timeout: float, backoff: float) -> dict | None:
    """Download one image; None on success, else the failure record."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        return {"id": raw_id, "url": url, "error": "unsupported URL scheme (only http and https)", "attempts": 0}
    error, attempt = "", 0
    for attempt in range(1, retries + 2):
        try:
            data = _get(url, timeout)
        except _Retryable as e:
            error = str(e)
            if attempt <= retries:
                time.sleep(backoff * 2 ** (attempt - 1))
            continue
        except ValueError as e:
            return {"id": raw_id, "url": url, "error": str(e), "attempts": attempt}
        ext = image_extension(data)
        if ext is None:
            return {"id": raw_id, "url": url, "error": f"not an image (starts with {data[:16]!r})", "attempts": attempt}
        write_bytes(out_dir / f"{file_stem(raw_id)}{ext}", data)
        return None
    return {"id": raw_id, "url": url, "error": error, "attempts": attempt}


def download_images(
    urls: dict[str, str],
    out_dir: Path,
    workers: int = 8,
    retries: int = 3,
    timeout: float = 20,
    backoff: float = 0.5,
) -> DownloadReport:
    """Fetch `raw_id -> url` into out_dir with `workers` threads; `retries` extra attempts after the
    first for retryable errors, sleeping `backoff * 2**k` seconds between them. Returns the counts and
    writes this run's failures to `<out_dir>/_failures.json`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DownloadReport(requested=len(urls))
    todo = []
    for raw_id, url in sorted(urls.items()):
        if find_image_file(out_dir, raw_id) is not None:
            report.present += 1
        else:
            todo.append((raw_id, url))
    failed = []
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(_fetch, raw_id, url, out_dir, retries, timeout, backoff) for raw_id, url in todo]
            try:
                for future in tqdm(as_completed(futures), total=len(futures), desc="images", unit=" img", disable=None):
                    failure = future.result()
                    if failure is None:
                        report.downloaded += 1
                    else:
                        failed.append(failure)
            except BaseException:  # Ctrl-C: drop queued downloads; finished files are complete
                for future in futures:
                    future.cancel()
                raise
    report.failed = sorted(failed, key=lambda f: f["id"])
    write_json(out_dir / FAILURES, report.failed)
    return report


def urls_from_raw(source: str, raw_dir: Path, domains, report: SkipReport | None = None) -> dict[str, str]:
    """raw id -> http(s) image URL of every reviewed item of `domains`, read with the release's loader
    (`source` is amazon2014, amazon2018 or amazon2023). The first URL seen for an id is kept."""
    if source not in RELEASES:
        raise ValueError(f"urls_from_raw reads the Amazon releases, not {source!r}; for a table use urls_from_table")
    loader = importlib.import_module(f"benchmark.data.sources.{source}")
    report = report if report is not None else SkipReport()
    urls: dict[str, str] = {}
    for domain in domains:
        items = loader.load_domain(Path(raw_dir), domain, report).items
        _collect(urls, items["item"], items["image_url"])
    return urls


def urls_from_table(items_path: Path, report: SkipReport | None = None) -> dict[str, str]:
    """raw id -> http(s) image URL from a plain items table (see `benchmark.data.sources.table`)."""
    meta = read_items(Path(items_path), report if report is not None else SkipReport())
    urls: dict[str, str] = {}
    _collect(urls, meta.keys(), (attrs["image_url"] for attrs in meta.values()))
    return urls


def _collect(urls: dict[str, str], ids, image_urls) -> None:
    for raw_id, url in zip(ids, image_urls):
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
            urls.setdefault(raw_id, url)
