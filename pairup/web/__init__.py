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
    """One of the page's files as the relay answers with it: as it is, and gzipped for a
    browser that takes it (every browser does), each with its own validator."""

    body: bytes
    etag: str
    compressed: bytes
    compressed_etag: str
    headers: tuple[tuple[str, str], ...]


def page_file(name: str) -> PageFile | None:
    """The page's file ``name`` (a bare name, as :func:`pairup.protocol.page_file` gives it),
    or ``None`` when the page has no such file."""
    return _page_files().get(name)


@functools.cache
def _page_files() -> dict[str, PageFile]:
    """Every file of the page, read from the package once: a name not among them is not
    looked for on disk, whatever a request asks."""
    found = {}
    for entry in (files(__package__) / "static").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if suffix in _TYPES and entry.is_file():
            found[entry.name] = _prepared(entry.read_bytes(), _TYPES[suffix])
    return found


def _prepared(body: bytes, content_type: str) -> PageFile:
    digest = hashlib.sha256(body).hexdigest()[:32]
    headers = (
        ("Content-Type", content_type),
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        # Asked again each time, answered "not modified" while it is the same file: a
        # relay upgraded under an open page serves its new files at the next load.
        ("Cache-Control", "no-cache"),
        ("Vary", "Accept-Encoding"),
        ("Connection", "close"),
    )
    compressed = gzip.compress(body, 9, mtime=0)
    return PageFile(body, f'"{digest}"', compressed, f'"{digest}-gz"', headers)


def takes_gzip(accept_encoding: str) -> bool:
    """Whether a request's ``Accept-Encoding`` takes gzip: named with a weight above zero, or
    left to ``*`` with one (``gzip;q=0`` refuses it whatever ``*`` says)."""
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, parameters = part.partition(";")
        weight = parameters.strip().removeprefix("q=").strip() if parameters.strip() else "1"
        try:
            weights[coding.strip()] = float(weight)
        except ValueError:
            weights[coding.strip()] = 0.0
    return weights.get("gzip", weights.get("*", 0.0)) > 0
