"""OTLP decoding: request bodies (protobuf / JSON, gzip) into protobuf messages and rows."""
