"""The watch page's files as the relay holds them, and what a browser's Accept-Encoding asks."""

import gzip

import pytest

from pairup import web


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("br, gzip;q=0.5", True),
        ("gzip, deflate, br, zstd", True),
        ("*", True),
        ("deflate, *;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip ; q=0.0", False),
        ("*, gzip;q=0", False),
        ("*;q=0", False),
        ("identity", False),
        ("", False),
        ("gzip;q=abc", False),
    ],
)
def test_gzip_is_sent_only_to_a_browser_that_takes_it(header, takes):
    assert web.takes_gzip(header) is takes


def test_the_page_is_its_packages_files_each_with_a_validator_per_encoding():
    page = web.page_file("watch.html")
    assert page is not None
    assert b'src="/_pairup/watch.mjs"' in page.body
    assert gzip.decompress(page.compressed) == page.body
    assert page.etag != page.compressed_etag
    assert ("Content-Security-Policy", web.CONTENT_SECURITY_POLICY) in page.headers
    for missing in ("nothing.mjs", "../__init__.py", "__init__.py", "static", ""):
        assert web.page_file(missing) is None
