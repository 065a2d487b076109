"""The site index links every sweep page with its summary (issue: sweeps linked from results/index.html)."""

from __future__ import annotations

from energy_model import site


def test_index_links_each_sweep_page_with_its_summary(tmp_path):
    for name, summary in (("plan-2022-uncertainty", "meets 30 % in 0.5 % of 416 samples <b>"),
                          ("plan-2022-uncertainty-oat", "")):
        folder = tmp_path / "sweeps" / name
        folder.mkdir(parents=True)
        (folder / "index.html").write_text("<html></html>", encoding="utf-8")
        if summary:
            (folder / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    (tmp_path / "sweeps" / "half-written").mkdir()  # no page: not linked
    html = site.write_site_index(tmp_path).read_text(encoding="utf-8")
    assert '<h2 id="sweeps">' in html
    assert 'href="sweeps/plan-2022-uncertainty/index.html"' in html
    assert 'href="sweeps/plan-2022-uncertainty-oat/index.html"' in html
    assert "meets 30 % in 0.5 % of 416 samples &lt;b&gt;" in html  # escaped
    assert "half-written" not in html


def test_index_without_sweeps_has_no_sweep_section(tmp_path):
    html = site.write_site_index(tmp_path).read_text(encoding="utf-8")
    assert 'id="sweeps"' not in html
