"""Broken variants of the link and the relay, each missing one of the defences the suite
relies on; run against them, the checker must find what they lose, repeat or reorder.

- ``no-resend``: a link that never resends its outbox, neither after a reconnect nor when an
  event goes unconfirmed;
- ``out-of-order``: a link that applies an event past a gap in the offsets instead of asking
  for what is missing;
- ``no-dedupe``: a relay that sequences every copy of an event id it receives (it runs as
  :mod:`tests.chaos.broken_relay`).

The link's variants break its core (:mod:`pairup.link.core`), where the rules are.
"""

from pairup.link.client import Link
from pairup.link.core import LinkCore, Send, _Batch
from pairup.protocol import Sequenced
from pairup.session import skip_offset


class NoResendCore(LinkCore):
    def _send_outbox(self, now: float, budget: int | None = None) -> list[Send]:
        return []


class OutOfOrderCore(LinkCore):
    def _arrived(self, frame: Sequenced, batch: _Batch) -> bool:
        if frame.seq > self.confirmed.last_seq + 1:
            # Pretend the missing offsets arrived: the event applies where it lands.
            self.confirmed = skip_offset(self.confirmed, frame.seq - 1)
        return super()._arrived(frame, batch)


class NoResendLink(Link):
    Core = NoResendCore


class OutOfOrderLink(Link):
    Core = OutOfOrderCore


LINKS: dict[str, type[Link]] = {"no-resend": NoResendLink, "out-of-order": OutOfOrderLink}
RELAY_MODULES = {"no-dedupe": "tests.chaos.broken_relay"}
