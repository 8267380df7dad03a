"""Ids a person types after a command: a session id never reads as an option."""

from unittest import mock

from pairup import launch


def test_a_session_id_never_starts_with_a_dash() -> None:
    with mock.patch("secrets.token_urlsafe", side_effect=["-starts-badly", "_fine_start0"]):
        assert launch.new_session_id() == "_fine_start0"


def test_a_new_join_link_has_a_session_id_a_command_line_takes() -> None:
    for _ in range(500):
        link = launch.new_join_link("ws://127.0.0.1:9")
        assert not link.session.startswith("-")
