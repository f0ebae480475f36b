"""Span storage: schema (DDL + migrations), the ClickHouse store and read queries."""
