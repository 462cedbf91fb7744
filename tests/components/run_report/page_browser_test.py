"""The run page in a real browser: headless Chromium loads RunReport's HTML, decodes its
pictures and paints them (a screenshot with their colors), the verdict above the MES report.

Chromium is Debian's ``chromium`` package; ``.ci/install-chromium`` installs it when missing
(``.ci/run`` does before the tests). The test skips only when it is missing and cannot be
installed here (no root / sudo, or no package source).
"""
import io
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image as mpimg

from components.run_report import component as run_report

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
INSTALLER = os.path.join(REPO, ".ci", "install-chromium")
NAMES = ("chromium", "chromium-browser", "google-chrome")
WIDTH, HEIGHT = 1200, 3200
# Reports, once the page has loaded, each image's decoded size and where the sections are.
PROBE = """<script>window.addEventListener('load', () => {
  const top = e => e ? Math.round(e.getBoundingClientRect().top) : null;
  const h1 = [...document.querySelectorAll('h1')];
  const inked = i => {  // share of the decoded picture's pixels that are opaque and not white
    const c = document.createElement('canvas');
    c.width = i.naturalWidth; c.height = i.naturalHeight;
    if (!c.width || !c.height) return 0;
    const ctx = c.getContext('2d'); ctx.drawImage(i, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let k = 0; k < d.length; k += 4) if (d[k + 3] > 0 && d[k] + d[k + 1] + d[k + 2] < 720) n++;
    return n / (c.width * c.height);
  };
  const out = {images: [...document.images].map(i => ({complete: i.complete,
      width: i.naturalWidth, height: i.naturalHeight, shown: i.getBoundingClientRect().width,
      inked: inked(i)})),
    verdict_top: top(document.getElementById('verdict')),
    mes_top: top(h1.find(h => h.textContent.includes('Multi-size Embedding Spec')))};
  const pre = document.createElement('pre');
  pre.id = 'probe'; pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});</script>"""


def _find() -> str:
    return next((p for p in map(shutil.which, NAMES) if p), "")


@pytest.fixture(scope="module")
def chromium():
    """The Chromium binary; installed with ``.ci/install-chromium`` when missing."""
    found = _find()
    if not found:
        run = subprocess.run([INSTALLER], capture_output=True, text=True, timeout=1200,
                             check=False)
        found = _find()
        if not found:
            pytest.skip("chromium is not installed and .ci/install-chromium could not install "
                        f"it (exit {run.returncode}): {(run.stderr or run.stdout)[-300:]}")
    return found


def _browse(chromium, tmp_path, page, *flags):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
           f"--window-size={WIDTH},{HEIGHT}", *flags, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


def _colorful(pixels: np.ndarray) -> int:
    """Pixels of a saturated color (the plots' bars and lines; text and tables are gray)."""
    rgb = pixels[..., :3]
    return int(np.sum(rgb.max(axis=-1) - rgb.min(axis=-1) > 0.3))


def test_chromium_renders_the_page_and_its_pictures(chromium, tmp_path, fake_run):
    _, html = run_report.render(**fake_run)
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _browse(chromium, tmp_path, page, "--dump-dom", "--virtual-time-budget=10000").stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)
                       .replace("&quot;", '"'))
    assert len(probe["images"]) == 3
    for image in probe["images"]:  # each data URI decoded to a picture of its own size
        assert image["complete"] and image["width"] > 300 and image["height"] > 100, image
        assert image["shown"] > 300 and image["inked"] > 0.05, image
    assert probe["verdict_top"] is not None and probe["verdict_top"] < probe["mes_top"]

    shot = tmp_path / "page.png"
    _browse(chromium, tmp_path, page, f"--screenshot={shot}")
    pixels = mpimg.imread(io.BytesIO(shot.read_bytes()), format="png")
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    assert np.mean(pixels[..., :3] < 0.9) > 0.01  # text, tables and pictures, not a blank page
    assert _colorful(pixels) > 40_000, _colorful(pixels)  # the pictures were painted
