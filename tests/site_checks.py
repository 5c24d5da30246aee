"""Checks on a built site, shared by the link test and the browser test."""
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

from tested_docs.notebooks import nav_files


class _Links(HTMLParser):
    ATTRS = {"a": "href", "img": "src", "link": "href", "script": "src", "source": "src"}

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        target = attrs.get(self.ATTRS.get(tag, ""), None)
        if target:
            self.links.append((tag, target))


def parse_html(path):
    parser = _Links()
    parser.feed(Path(path).read_text(errors="replace"))
    return parser


def page_url(site, html_file):
    rel = html_file.relative_to(site).as_posix()
    return "/" + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def resolve(site, url):
    """The file a site-absolute URL path serves, or None."""
    path = site / unquote(url).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


def broken_links(site):
    """'page: problem' for every internal link, image, script, stylesheet or anchor that
    points nowhere in the built site. External links are not followed (no network)."""
    site = Path(site)
    pages = {page_url(site, f): f for f in site.rglob("*.html")}
    ids = {}
    problems = []
    for url, html_file in sorted(pages.items()):
        if html_file.name == "404.html":
            continue
        for tag, link in parse_html(html_file).links:
            if urlparse(link).scheme or link.startswith(("//", "mailto:", "javascript:")):
                continue
            target, fragment = urldefrag(urljoin(url, link))
            target_file = resolve(site, target) if target else html_file
            if target_file is None:
                problems.append(f"{url}: <{tag}> points to missing {link}")
            elif fragment and target_file.suffix == ".html":
                if target_file not in ids:
                    ids[target_file] = parse_html(target_file).ids
                if fragment not in ids[target_file]:
                    problems.append(f"{url}: <{tag}> points to missing anchor {link}")
    return problems


def nav_urls():
    """Site-relative URL of every page in mkdocs.yml's nav, in nav order."""
    stems = [re.sub(r"\.(md|ipynb)$", "", name) for name in nav_files()]
    return ["" if stem == "index" else f"{stem}/" for stem in stems]
