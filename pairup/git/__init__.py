"""pairup's git support."""
