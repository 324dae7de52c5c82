# Loaded by moto_server's Python at start-up: test/support/moto.ts puts this directory on PYTHONPATH.
# Each patch checks that moto looks as it expects and otherwise leaves moto as it is, saying so.
import tag_lookups  # noqa: F401 - a speed-up
import ipv6_source_nat  # noqa: F401 - a field moto lacks
