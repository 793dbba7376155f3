"""The text shown by a PDF written by ``noisefleet_dashboard.pdf``: its content streams
inflated, the strings of the text operators joined (enough for fpdf2's core-font output)."""

from __future__ import annotations

import re
import zlib


def pdf_text(document: bytes) -> str:
    assert document.startswith(b"%PDF-"), document[:20]
    parts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            content = stream
        for text in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content, re.S):
            parts.append(re.sub(rb"\\([()\\])", rb"\1", text).decode("latin-1"))
    return "\n".join(parts)
