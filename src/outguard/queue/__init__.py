"""The durable spool and the delivery workers that relay spooled mail to its next hop."""
