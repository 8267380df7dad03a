"""The relay's own certificate, and pinning it instead of trusting an authority."""

import asyncio
import datetime
import stat

import pytest

from pairup import protocol as wire
from pairup import tls

NOW = datetime.datetime(2026, 12, 7, 12, 0, tzinfo=datetime.UTC)


def test_the_certificate_is_made_once_with_a_key_only_its_owner_reads(tmp_path):
    made = tls.self_signed(tmp_path / "relay", now=NOW)
    assert stat.S_IMODE(made.key.stat().st_mode) == 0o600
    assert wire.PIN.fullmatch(made.pin)
    again = tls.self_signed(tmp_path / "relay", now=NOW + datetime.timedelta(days=30))
    assert again == made


def test_a_certificate_near_its_end_is_replaced(tmp_path):
    made = tls.self_signed(tmp_path, now=NOW)
    later = NOW + tls.VALID_FOR - tls.RENEW_WITHIN + datetime.timedelta(hours=1)
    assert tls.self_signed(tmp_path, now=later).pin != made.pin


def test_a_damaged_certificate_is_made_again(tmp_path):
    made = tls.self_signed(tmp_path, now=NOW)
    made.cert.write_text("not a certificate")
    assert tls.self_signed(tmp_path, now=NOW).pin != made.pin


def test_a_certificate_that_cannot_be_used_says_which_files(tmp_path):
    (tmp_path / "cert.pem").write_text("nothing")
    with pytest.raises(tls.TlsError, match=r"cert\.pem"):
        tls.server_context(tmp_path / "cert.pem", tmp_path / "key.pem")


def test_a_client_pins_the_certificate_it_was_given(tmp_path):
    asyncio.run(_pinned(tmp_path))


async def _pinned(tmp_path):
    made = tls.self_signed(tmp_path)
    other = tls.self_signed(tmp_path / "other")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(
        answer, "127.0.0.1", 0, ssl=tls.server_context(made.cert, made.key)
    )
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls.pinned_context(), server_hostname="anything"
        )
        shown = writer.get_extra_info("ssl_object")
        assert tls.shows(shown, made.pin)
        assert not tls.shows(shown, other.pin)
        assert not tls.shows(None, made.pin)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
