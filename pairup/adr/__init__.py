"""Architecture decision records and session records exported from a pairing session."""
