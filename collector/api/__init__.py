"""HTTP routes: the OTLP receiver (``ingest``) and the read API (``read``)."""
