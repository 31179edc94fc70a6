"""Bounces: building Outguard's own NDRs (RFC 3464) and explaining anyone's."""
