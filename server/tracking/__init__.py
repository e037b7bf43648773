"""Open and click tracking (TRK-1..10): injection at send, signed endpoints, human/machine counts.

Read in this order: `tokens` (signed ids, no URLs), `injection` (pixel, links, trap link),
`service` (tracked emails, options, status), `ingest` (the endpoints' write path: Redis stream or
direct), `recording` (classification + counters, one transaction per batch), `classify` and
`signatures` (who is a machine), `routes` and `tasks`.
"""
