"""The watch page: the files a relay serves to a browser that opens a session's link (ADR 36).

The same few static files for every session and everyone: the page reads the secret from the
link's fragment, which a browser never sends, connects back as a watcher over the protocol
every participant speaks, and opens the bodies itself with WebCrypto. The relay learns nothing
it did not know: that someone asked for the page, as it knows that someone connected.

Each file is read once from the package and kept, with the headers that keep the page to its
own origin: a Content-Security-Policy that allows the relay's own scripts, styles, images and
websocket and nothing else (no inline script, no other origin), no sniffing, no referrer, no
framing.
"""

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True, slots=True)
class PageFile:
    """One of the page's files as the relay answers with it."""

    body: bytes
    compressed: bytes
    """The same file gzipped, for a browser that takes it (every browser does): a few
    kilobytes on a phone's connection instead of a hundred."""
    headers: tuple[tuple[str, str], ...]
    etag: str


@functools.cache
def page_file(name: str) -> PageFile | None:
    """The page's file ``name`` (a bare name, as :func:`pairup.protocol.page_file` gives it),
    or ``None`` when the page has no such file."""
    suffix = name[name.rfind(".") :]
    if suffix not in _TYPES or "/" in name:
        return None
    try:
        body = (files(__package__) / "static" / name).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = (
        ("Content-Type", _TYPES[suffix]),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        # Asked again each time, answered "not modified" while it is the same file: a
        # relay upgraded under an open page serves its new files at the next load.
        ("Cache-Control", "no-cache"),
        ("ETag", etag),
        ("Vary", "Accept-Encoding"),
    )
    return PageFile(body, gzip.compress(body, 9, mtime=0), headers, etag)
