"""The SMTP front door (aiosmtpd): sessions and envelopes; it asks the engine and answers what it says."""
