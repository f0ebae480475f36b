"""The durable spool: an fsynced write-ahead log between acknowledging and storing."""
