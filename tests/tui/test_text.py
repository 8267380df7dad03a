"""The connection line's words: states, the relay, and a fault drill when one runs."""

from pairup.link.client import Status
from pairup.tui import text


def test_a_connected_line_names_the_relay_and_warns_of_a_fault_drill():
    status = Status("connected", "ws://127.0.0.1:8765")
    assert text.connection(status, 0.0) == "● connected to ws://127.0.0.1:8765"
    drilled = text.connection(status, 0.0, "drop=0.1,seed=7")
    assert drilled == "● connected to ws://127.0.0.1:8765 · ⚠ fault drill on: drop=0.1,seed=7"


def test_reconnecting_counts_down_and_offline_says_why():
    waiting = Status("reconnecting", "ws://r:1", retry_at=12.2)
    assert text.connection(waiting, 10.0, "drop=0.1") == "◌ reconnecting in 3 s to ws://r:1"
    gone = Status("offline", "ws://r:1", reason="session ended")
    assert text.connection(gone, 0.0) == "✕ offline: session ended (ws://r:1)"


def test_waiting_for_the_host_shows_ones_own_fingerprint_to_compare():
    waiting = Status("waiting", "wss://r:1", reason="waiting for the host to let you in")
    shown = text.connection(waiting, 0.0, "", "08DE C9DD D54B E1CA")
    assert shown == (
        "◌ waiting for the host to let you in · your key's fingerprint: 08DE C9DD D54B E1CA"
    )
    assert text.connection(waiting, 0.0) == "◌ waiting for the host to let you in"
