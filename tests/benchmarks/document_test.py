"""BENCHMARKS.md's assembly: the hand-written paragraphs find their sections, the report stays
results (no lab notebook) and its links to docs/decisions.md resolve.

No training: the report is re-rendered from the repository's committed result JSON.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks import document  # noqa: E402
from benchmarks.scale import cli as scale  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_BYTES = 40_000


def _rendered(tmp_path) -> str:
    shutil.copytree(os.path.join(REPO, "benchmarks", "results"), tmp_path / "benchmarks" / "results")
    out = str(tmp_path / "BENCHMARKS.md")
    scale.rerender(out)
    with open(out, encoding="utf-8") as f:
        return f.read()


def test_every_note_lands_in_its_section_and_the_report_stays_small(tmp_path):
    text = _rendered(tmp_path)
    headings = [line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")]
    paragraphs = document.notes()
    assert paragraphs and set(paragraphs) <= set(headings)
    for heading, note in paragraphs.items():
        section = text.split(heading, 1)[1]
        next_heading = re.search(r"^#", section, flags=re.M)
        assert f"**What this shows.** {note}" in section[:next_heading.start() if next_heading
                                                         else None]
    assert "Findings" not in text and "History" not in text
    assert f"]({document.DECISIONS})" in text
    assert len(text.encode("utf-8")) <= MAX_BYTES


def test_links_to_decisions_name_existing_anchors():
    with open(os.path.join(REPO, "docs", "decisions.md"), encoding="utf-8") as f:
        anchors = set(re.findall(r'<a id="([\w-]+)"></a>', f.read()))
    with open(document.NOTES, encoding="utf-8") as f:
        linked = set(re.findall(r"docs/decisions\.md#([\w-]+)", f.read()))
    assert linked and linked <= anchors


def test_paragraph_goes_before_the_next_heading_of_any_level():
    lines = ["## A", "", "text a", "", "### B", "", "table b", "", "## C", "", "text c"]
    out = document.with_notes(lines, {"A": "note a", "C": "note c", "missing": "x"})
    assert out == ["## A", "", "text a", "", "**What this shows.** note a", "", "### B", "",
                   "table b", "", "## C", "", "text c", "", "**What this shows.** note c", ""]
