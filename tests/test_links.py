"""Every internal link, anchor, image, script and notebook download of the built site works."""
import pytest

from tests.site_checks import broken_links, nav_urls, parse_html, resolve

# One worker builds the site once for every test that reads it (make test runs xdist).
pytestmark = pytest.mark.xdist_group("site")


def test_the_built_site_has_no_broken_links(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stdout + result.stderr
    problems = broken_links(site)
    assert not problems, "\n".join(problems)


def test_every_nav_page_is_built(built_site):
    site, _ = built_site
    missing = [url for url in nav_urls() if resolve(site, "/" + url) is None]
    assert not missing, missing


def test_notebook_page_offers_its_download(built_site):
    site, _ = built_site
    page = parse_html(site / "cifar10-notebook" / "index.html")
    assert ("a", "cifar10-notebook.ipynb") in page.links
    assert (site / "cifar10-notebook" / "cifar10-notebook.ipynb").is_file()


def test_every_chapter_opens_in_colab_and_downloads_its_committed_notebook(built_site):
    from tested_docs import notebooks

    site, _ = built_site
    for page in notebooks.chapters():
        stem = page.removesuffix(".md")
        links = parse_html(site / stem / "index.html").links
        assert ("a", notebooks.colab_url(page)) in links, page
        assert ("a", f"../notebooks/{stem}.ipynb") in links, page
        served = resolve(site, f"/notebooks/{stem}.ipynb")
        assert served is not None, page
        assert served.read_bytes() == notebooks.notebook_path(page).read_bytes(), page


def test_a_broken_image_path_is_reported_with_its_page(tmp_path):
    (tmp_path / "guide").mkdir()
    (tmp_path / "img.png").write_bytes(b"png")
    (tmp_path / "index.html").write_text('<h2 id="top">x</h2><img src="img.png">'
                                         '<a href="guide/#top">g</a>')
    (tmp_path / "guide" / "index.html").write_text(
        '<img src="../missing.png"><a href="../#top">ok</a><a href="../#gone">bad</a>')
    assert sorted(broken_links(tmp_path)) == [
        "/: <a> points to missing anchor guide/#top",
        "/guide/: <a> points to missing anchor ../#gone",
        "/guide/: <img> points to missing ../missing.png",
    ]
