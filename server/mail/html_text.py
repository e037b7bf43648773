"""HTML → readable plain text for the text/plain alternative of a message.

Paragraphs and headings are separated by a blank line, `<br>` and block ends break lines, list
items get "- " or "1. " markers (nested lists are indented), links read "text (url)", quotes are
prefixed with "> ", tables put cells of a row on one line, `<pre>` keeps its spacing, and scripts,
styles and the head are dropped. Built on the standard library's `html.parser`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_WS = re.compile(r"[ \t\n\r\f]+")  # HTML white space; a no-break space stays
_BLANK_RUNS = re.compile(r"\n{3,}")
_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg"})
_PARAGRAPH = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr", "ul", "ol", "dl"}
)
_LINE = frozenset(
    {
        "div",
        "tr",
        "li",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "main",
        "address",
        "figure",
        "figcaption",
        "dt",
        "dd",
        "form",
        "fieldset",
        "center",
        "caption",
        "tbody",
        "thead",
        "tfoot",
    }
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"})


def _link_target(href: str | None) -> str | None:
    """The URL worth showing for a link, or None for anchors and scripts."""
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith("#") or href.lower().startswith(("javascript:", "cid:")):
        return None
    return href


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.breaks = 0  # line breaks wanted before the next text
        self.written_breaks = 0  # line breaks already written since the last text
        self.line_start = True
        self.space = False
        self.skip = 0
        self.pre = 0
        self.prefixes: list[str] = []
        self.lists: list[list] = []  # [kind, counter]
        self.marker = ""
        self.links: list[tuple[str | None, int]] = []
        self.first_cell = True

    # --- writing -------------------------------------------------------------------------------

    def _block(self, count: int) -> None:
        if self.out:
            self.breaks = max(self.breaks, count)
        self.space = False

    def _flush_breaks(self) -> None:
        missing = self.breaks - self.written_breaks
        if missing > 0 and self.out:
            blank = "".join(self.prefixes).rstrip()
            self.out.append("\n" + (blank + "\n") * (missing - 1))
            self.line_start = True
            self.written_breaks = self.breaks
        self.breaks = 0

    def _write(self, text: str) -> None:
        self._flush_breaks()
        if self.line_start:
            self.out.append("".join(self.prefixes) + self.marker)
            self.marker = ""
            self.line_start = False
        elif self.space:
            self.out.append(" ")
        self.space = False
        self.written_breaks = 0
        self.out.append(text)

    def _write_pre(self, data: str) -> None:
        lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for index, line in enumerate(lines):
            if index:
                self.out.append("\n")
                self.line_start = True
            if line:
                self._write(line)

    # --- parser callbacks ----------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip += 1
            return
        if self.skip:
            return
        if tag in _PARAGRAPH and not (self.lists and tag in ("ul", "ol")):
            self._block(2)
        elif tag in _LINE or tag in ("ul", "ol"):
            self._block(1)
        if tag == "br":
            if self.out:
                self.breaks += 1
            self.space = False
        elif tag == "hr":
            self._write("---")
            self._block(2)
        elif tag == "pre":
            self.pre += 1
        elif tag == "blockquote":
            self._flush_breaks()
            self.prefixes.append("> ")
        elif tag in ("ul", "ol"):
            self._flush_breaks()
            self.prefixes.append("  " if self.lists else "")
            self.lists.append([tag, 0])
        elif tag == "li":
            if self.lists:
                self.lists[-1][1] += 1
                kind, number = self.lists[-1]
                self.marker = f"{number}. " if kind == "ol" else "- "
            else:
                self.marker = "- "
        elif tag == "a":
            self.links.append((_link_target(dict(attrs).get("href")), len(self.out)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self.handle_data(alt)
        elif tag == "tr":
            self.first_cell = True
        elif tag in ("td", "th"):
            if not self.first_cell:
                self.space = True
            self.first_cell = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if tag not in _VOID and self.skip:
                self.skip -= 1
            return
        if self.skip:
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            shown = "".join(self.out[start:]).strip()
            if href and href not in (shown, f"mailto:{shown}", f"http://{shown}"):
                self.space = True
                self._write(f"({href})" if shown else href)
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
        elif tag == "blockquote" and self.prefixes:
            self.prefixes.pop()
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.prefixes.pop()
            self._flush_breaks()
        if tag in _PARAGRAPH and not (self.lists and tag in ("ul", "ol")):
            self._block(2)
        elif tag in _LINE:
            self._block(1)

    def handle_data(self, data: str) -> None:
        if self.skip or not data:
            return
        if self.pre:
            self._write_pre(data)
            return
        text = _WS.sub(" ", data)
        if text == " ":
            self.space = True
            return
        if text[0] == " ":
            self.space = True
        self._write(text.strip(" "))
        self.space = text[-1] == " "


def html_to_text(html: str) -> str:
    """Readable plain text for `html` (no trailing newline)."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    text = "".join(writer.out)
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
