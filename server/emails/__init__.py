"""Logged emails (LOG-1..6): one row per message per org, its associations to CRM records."""
