"""report.html: report.md rendered as one HTML page with its figures inline, one file to open or send."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_SCHEMES = ("", "http", "https", "mailto")  # what a link in a study's description may point to


def markdown_to_html(title: str, markdown: str, root: Path, figures: Iterable[Path]) -> str:
    """report.md as one HTML page with its PNG figures inlined as data URIs.

    Markdown holds names users chose, so raw HTML in it is shown as text, an image is shown only
    when it is one of `figures` (what the report drew, inside `root`; anything else shows its alt
    text), and links go only to the web or within the page."""
    from markdown_it import MarkdownIt  # on first use: only writing a report needs it

    class Renderer(MarkdownIt):
        def validateLink(self, url: str) -> bool:  # markdown-it asks it which links to keep
            return _safe_link(url)

    renderer = Renderer("commonmark", {"html": False}).enable("table")
    drawn = {path.relative_to(root).as_posix(): path for path in figures}

    def image(self, tokens, index, options, env) -> str:
        token = tokens[index]
        alt = html.escape(self.renderInlineAsText(token.children or [], options, env))
        path = drawn.get(unquote(str(token.attrGet("src") or "")))
        if path is None:
            return alt
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}" alt="{alt}" />'

    renderer.add_render_rule("image", image)
    return HTML_PAGE.format(title=html.escape(title), body=renderer.render(markdown))


def _safe_link(url: str) -> bool:
    try:
        return urlsplit(url.strip()).scheme.lower() in LINK_SCHEMES
    except ValueError:  # not a URL at all (an unclosed [IPv6 address)
        return False


HTML_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }}
img {{ max-width: 100%; }}
table {{ border-collapse: collapse; margin: 0.5rem 0; }}
th, td {{ border: 1px solid #bbb; padding: 0.25rem 0.6rem; }}
th {{ background: #f2f2f2; }}
code {{ background: #f2f2f2; padding: 0 0.2rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
