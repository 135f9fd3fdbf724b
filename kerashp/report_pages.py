"""report.html: report.md rendered as one HTML page with its figures inline, one file to open or send."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from urllib.parse import unquote


def markdown_to_html(title: str, markdown: str, root: Path) -> str:
    """report.md as one HTML page with its PNG figures inlined as data URIs."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)

    def inline(match: re.Match) -> str:
        data = base64.b64encode((root / unquote(match.group(1))).read_bytes()).decode("ascii")
        return f'<img src="data:image/png;base64,{data}"'

    body = re.sub(r'<img src="([^"]+\.png)"', inline, body)
    return HTML_PAGE.format(title=html.escape(title), body=body)


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
