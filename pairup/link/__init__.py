"""The client side of a session: the link to the relay, the clock offset, the timekeeper."""
