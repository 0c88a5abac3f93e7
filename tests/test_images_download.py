"""Image lookup and normalisation, and the downloader against a local HTTP server."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import time
from collections import Counter

import pytest
from PIL import Image

from benchmark.data.download import FAILURES, download_images, image_extension, urls_from_raw
from benchmark.data.errors import DataError
from benchmark.data.images import file_stem, normalize_image, normalize_to_file, resolve_image


def image_bytes(fmt: str, size=(30, 10), color=(0, 128, 0), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------- resolve

def test_resolve_order_and_confinement(tmp_path):
    raw, images = tmp_path / "raw", tmp_path / "raw" / "images"
    (raw / "pics").mkdir(parents=True)
    images.mkdir()
    (images / "A1.png").write_bytes(image_bytes("PNG"))
    (raw / "pics" / "b.jpg").write_bytes(image_bytes("JPEG"))
    (tmp_path / "outside.jpg").write_bytes(image_bytes("JPEG"))

    assert resolve_image("A1", "pics/b.jpg", raw) == images / "A1.png"  # the id's file comes first
    assert resolve_image("B", "pics/b.jpg", raw) == (raw / "pics" / "b.jpg").resolve()
    assert resolve_image("B", (raw / "pics" / "b.jpg").as_uri(), raw) == (raw / "pics" / "b.jpg").resolve()
    assert resolve_image("B", "../outside.jpg", raw) is None  # never outside raw_dir
    assert resolve_image("B", (tmp_path / "outside.jpg").as_uri(), raw) is None
    assert resolve_image("B", "http://example.com/b.jpg", raw) is None  # not downloaded
    (images / "B.JPG").write_bytes(image_bytes("JPEG"))
    assert resolve_image("B", "http://example.com/b.jpg", raw) == images / "B.JPG"
    assert resolve_image("C", None, raw, images_dir=raw / "pics") is None


def test_file_stem_is_safe():
    assert file_stem("B000ASIN12") == "B000ASIN12"
    assert file_stem("../etc/passwd") == "%2E.%2Fetc%2Fpasswd"
    assert "/" not in file_stem("a/b") and file_stem("a b") == "a%20b"


# ---------------------------------------------------------------------------------------- normalize

def test_normalize_is_deterministic_square_and_centre_cropped(tmp_path):
    im = Image.new("RGB", (30, 10), (255, 0, 0))  # red | green | blue thirds
    im.paste((0, 255, 0), (10, 0, 20, 10))
    im.paste((0, 0, 255), (20, 0, 30, 10))
    path = tmp_path / "x.png"
    im.save(path)
    first, second = normalize_image(path, 8), normalize_image(path, 8)
    assert first == second and first.startswith(b"\x89PNG")
    out = Image.open(io.BytesIO(first))
    assert out.size == (8, 8) and out.mode == "RGB"
    assert out.getpixel((4, 4)) == (0, 255, 0)  # only the green middle square is kept
    assert normalize_image(path, 8) != normalize_image(path, 9)


def test_normalize_transparency_onto_white(tmp_path):
    path = tmp_path / "t.png"
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(path)
    assert Image.open(io.BytesIO(normalize_image(path, 2))).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize("data", [b"not an image at all", image_bytes("JPEG", (64, 64))[:300], image_bytes("PNG")[:-20]])
def test_corrupt_image_is_a_data_error(tmp_path, data):
    path = tmp_path / "bad.jpg"
    path.write_bytes(data)
    with pytest.raises(DataError, match=r"bad.jpg: cannot decode image"):
        normalize_image(path, 8)


def test_normalize_to_file_writes_and_hashes_or_returns_the_error(tmp_path):
    """What `prepare`'s image workers run: the file written and its sha256 returned; a bad image's DataError
    returned (not raised, so one bad image does not stop the others) and nothing written."""
    good, bad = tmp_path / "g.png", tmp_path / "bad.jpg"
    good.write_bytes(image_bytes("PNG"))
    bad.write_bytes(b"not an image at all")
    digest = normalize_to_file((str(good), str(tmp_path / "out.png"), 8))
    assert (tmp_path / "out.png").read_bytes() == normalize_image(good, 8)
    assert digest == hashlib.sha256(normalize_image(good, 8)).hexdigest()
    error = normalize_to_file((str(bad), str(tmp_path / "never.png"), 8))
    assert isinstance(error, DataError) and "cannot decode image" in str(error)
    assert not (tmp_path / "never.png").exists()


# ---------------------------------------------------------------------------------------- download

class _Handler(http.server.BaseHTTPRequestHandler):
    hits: Counter = Counter()
    png = image_bytes("PNG")
    jpeg = image_bytes("JPEG")

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits[self.path] += 1
        n = self.hits[self.path]
        if self.path == "/a.png":
            self._send(200, self.png, "image/png")
        elif self.path == "/b":  # no suffix: the extension comes from the bytes
            self._send(200, self.jpeg, "image/jpeg")
        elif self.path == "/flaky.png" and n <= 2:
            self._send(500, b"busy", "text/plain")
        elif self.path == "/flaky.png":
            self._send(200, self.png, "image/png")
        elif self.path == "/slow.png" and n == 1:
            time.sleep(0.6)  # longer than the client's timeout
            self._send(200, self.png, "image/png")
        elif self.path == "/slow.png":
            self._send(200, self.png, "image/png")
        elif self.path == "/html":
            self._send(200, b"<html>moved</html>", "text/html")
        elif self.path == "/always500":
            self._send(503, b"down", "text/plain")
        else:
            self._send(404, b"missing", "text/plain")

    def _send(self, code, body, kind):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.hits = Counter()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_download_retries_failures_and_resume(tmp_path, server):
    base, hits = server
    urls = {
        "A": f"{base}/a.png", "B": f"{base}/b", "FLAKY": f"{base}/flaky.png", "SLOW": f"{base}/slow.png",
        "GONE": f"{base}/gone.jpg", "HTML": f"{base}/html", "DOWN": f"{base}/always500", "FTP": "ftp://x/y.jpg",
    }
    out = tmp_path / "images"
    report = download_images(urls, out, workers=4, retries=2, timeout=0.3, backoff=0.01)
    assert (report.requested, report.present, report.downloaded) == (8, 0, 4)
    assert sorted(p.name for p in out.iterdir()) == ["A.png", "B.jpg", "FLAKY.png", "SLOW.png", FAILURES]
    assert (out / "A.png").read_bytes() == _Handler.png
    assert hits["/flaky.png"] == 3 and hits["/gone.jpg"] == 1 and hits["/always500"] == 3
    failures = json.loads((out / FAILURES).read_text())
    assert [(f["id"], f["attempts"]) for f in failures] == [("DOWN", 3), ("FTP", 0), ("GONE", 1), ("HTML", 1)]
    assert failures[0]["error"] == "HTTP 503" and failures[2]["error"] == "HTTP 404"
    assert failures[3]["error"].startswith("not an image") and failures[2]["url"] == urls["GONE"]

    before = sum(hits.values())
    again = download_images({k: urls[k] for k in ("A", "B", "FLAKY", "SLOW")}, out, workers=2)
    assert (again.present, again.downloaded, again.failed) == (4, 0, [])
    assert sum(hits.values()) == before  # nothing fetched
    assert json.loads((out / FAILURES).read_text()) == []
    assert resolve_image("FLAKY", urls["FLAKY"], tmp_path, images_dir=out) == out / "FLAKY.png"


def test_image_extension():
    assert image_extension(image_bytes("PNG")) == ".png" and image_extension(image_bytes("JPEG")) == ".jpg"
    assert image_extension(image_bytes("GIF")) == ".gif" and image_extension(image_bytes("WEBP")) == ".webp"
    assert image_extension(b"<html>") is None


def test_urls_from_raw(tmp_path):
    import gzip

    reviews = "".join(json.dumps({"reviewerID": "U", "asin": a, "overall": 5.0, "unixReviewTime": 1400000000}) + "\n" for a in "ABC")
    (tmp_path / "reviews_Baby_5.json.gz").write_bytes(gzip.compress(reviews.encode()))
    meta = "\n".join([
        "{'asin': 'A', 'imUrl': 'http://x/a.jpg'}",
        "{'asin': 'B', 'imUrl': 'pics/b.jpg'}",
        "{'asin': 'Z', 'imUrl': 'http://x/z.jpg'}",
    ]) + "\n"
    (tmp_path / "meta_Baby.json").write_text(meta)
    assert urls_from_raw("amazon2014", tmp_path, ["Baby"]) == {"A": "http://x/a.jpg"}  # Z has no review
