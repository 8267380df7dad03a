"""Broken variants of the link and the relay, each missing one of the defences the suite
relies on; run against them, the checker must find what they lose, repeat or reorder.

- ``no-resend``: a link that never resends its outbox, neither after a reconnect nor when an
  event goes unconfirmed;
- ``out-of-order``: a link that applies an event past a gap in the offsets instead of asking
  for what is missing;
- ``no-dedupe``: a relay that sequences every copy of an event id it receives (it runs as
  :mod:`tests.chaos.broken_relay`).
"""

from websockets.asyncio.client import ClientConnection

from pairup.link.client import Link
from pairup.protocol import Sequenced
from pairup.session import skip_offset


class NoResendLink(Link):
    async def _send_outbox(self, ws: ClientConnection, budget: int | None = None) -> None:
        return None


class OutOfOrderLink(Link):
    async def _apply(self, ws: ClientConnection, frame: Sequenced) -> None:
        if frame.seq > self.confirmed.last_seq + 1:
            # Pretend the missing offsets arrived: the event applies where it lands.
            self.confirmed = skip_offset(self.confirmed, frame.seq - 1)
        await super()._apply(ws, frame)


LINKS: dict[str, type[Link]] = {"no-resend": NoResendLink, "out-of-order": OutOfOrderLink}
RELAY_MODULES = {"no-dedupe": "tests.chaos.broken_relay"}
