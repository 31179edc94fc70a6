"""The message trace: every message's events, written in batches off the SMTP path, and queried."""
