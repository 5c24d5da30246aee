"""The case study's notebook as a page of its own (MkDocs hook; see mkdocs.yml).

mkdocs-jupyter renders notebooks/cifar10.ipynb, a copy the site hook adds as
cifar10-notebook.ipynb. That notebook opens with the chapter's title and text, so
left alone the page would carry the chapter's heading, compete with the chapter in
search, and offer an "Edit" link to a file that exists only at build time.
"""
import posixpath
import re

PAGE = "cifar10-notebook.ipynb"
SOURCE = "cifar10.md"  # the notebook is generated from this page
TITLE = "The case study as a notebook"
FIRST_HEADING = re.compile(r"(<h1\b[^>]*>)(.*?)(<a class=\"anchor-link\"|</h1>)",
                           re.DOTALL)


def on_page_content(html, page, config, files):
    if page.file.src_uri != PAGE:
        return html
    # Material's search skips a page whose metadata says so (search: exclude).
    page.meta["search"] = {"exclude": True}
    page.title = TITLE
    # Editing the notebook means editing the chapter it is generated from.
    if config.get("repo_url") and config.get("edit_uri"):
        page.edit_url = posixpath.join(config["repo_url"].rstrip("/") + "/",
                                       config["edit_uri"].strip("/"), SOURCE)
    else:
        page.edit_url = None
    return FIRST_HEADING.sub(lambda m: f"{m[1]}{TITLE}{m[3]}", html, count=1)
