"""The retrieved-image baseline and the static gallery (rendered in headless Chromium when present)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_image_metrics import make_dataset  # the hand-built prepared dataset (tests/ is on sys.path)

from baselines.image_baselines import RetrievedImageModel
from benchmark.eval.gallery import write_gallery

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    from benchmark.data.dataset import PreparedDataset

    return PreparedDataset(make_dataset(tmp_path_factory.mktemp("gallery") / "data", per_cell=3))


@pytest.fixture(scope="module")
def model(handmade):
    m = RetrievedImageModel(seed=0)
    m.fit(handmade, "main")
    return m


def test_retrieved_image_follows_query_popularity_and_history(model, handmade):
    inst = handmade.instances("image", "test")
    pop = handmade.interactions("train")["item"].value_counts()
    items = handmade.items
    for _, row in inst.iterrows():
        got = model.retrieve(row["query"], row["history"])
        assert len(got) == 2
        allowed = items[(items["category"] == row["query"]) & items["image"].notna()
                        & ~items["item"].isin(list(row["history"]))]["item"]
        want = sorted(allowed, key=lambda i: (-pop.get(i, 0), i))[:2]  # popularity, then token
        assert got == want
    images = model.generate_images(inst)
    assert len(images) == len(inst)
    first = model.retrieve(inst["query"][0], inst["history"][0])[0]
    assert np.array_equal(np.asarray(images[0]), np.asarray(handmade.load_image(first)))
    assert images[0].info["retrieved"] == model.retrieve(inst["query"][0], inst["history"][0])
    # an unknown query falls back to the most popular items with an image
    assert model.retrieve("No > Such > Category", []) == [int(i) for i in pop.index[:2]]
    assert model.supports("image", "test") and not model.supports("search", "test")


def _predictions(run_dir: Path, inst, images) -> list[dict]:
    recs = []
    for i, img in zip(inst["id"], images):
        rel = f"images/image__test/{i.replace('/', '_')}.png"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(run_dir / rel)
        recs.append({"id": i, "image": rel, "retrieved": img.info["retrieved"]})
    return recs


@pytest.fixture(scope="module")
def page(model, handmade, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    inst = handmade.instances("image", "test").head(5).copy()
    inst.loc[0, "user"] = '<script>alert("x")</script>'
    inst.loc[1, "query"] = 'Toys & "Games" > <b>Balls</b>'
    recs = _predictions(run_dir, inst, model.generate_images(inst))
    recs[2]["image"] = "images/image__test/not-written.png"   # a missing generated image
    inst.loc[3, "target_item"] = handmade.n_items - 1          # the item without an image
    return run_dir, inst, write_gallery(run_dir, "image__test", inst, recs, handmade, n=4)


def test_gallery_html_is_escaped_relative_and_complete(page):
    run_dir, inst, path = page
    assert path == run_dir / "gallery" / "image__test.html"
    text = path.read_text()
    assert "<script" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "Toys &amp; &quot;Games&quot; &gt; &lt;b&gt;Balls&lt;/b&gt;" in text and "<b>" not in text
    assert text.count('class="inst"') == 4 and "4 of 5 instances" in text
    srcs = re.findall(r'<img src="([^"]+)"', text)
    # 4 instances x (5 history + 2 retrieved) + 3 generated present + 3 targets with an image
    assert len(srcs) == 4 * 7 + 3 + 3
    for s in srcs:
        assert not s.startswith("/") and "://" not in s
        assert (path.parent / s).is_file(), s
    assert text.count("no image") == 1 and text.count("missing") == 1
    assert sum(s.startswith("../images/image__test/") for s in srcs) == 3


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_gallery_images_decode_in_headless_chromium(page, tmp_path):
    run_dir, _, path = page
    probe = path.with_name("probe.html")  # same folder, so relative paths resolve the same way
    script = ('<script>window.addEventListener("load",()=>{const d=document.createElement("pre");'
              'd.id="widths";d.textContent=[...document.images].map(i=>i.naturalWidth).join(",");'
              'document.body.appendChild(d);});</script>')
    probe.write_text(path.read_text().replace("</body>", script + "</body>"))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
           probe.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    m = re.search(r'<pre id="widths">([^<]*)</pre>', out)
    assert m, out[-2000:]
    widths = [int(w) for w in m.group(1).split(",")]
    assert len(widths) == path.read_text().count("<img ") and all(w > 0 for w in widths), widths
