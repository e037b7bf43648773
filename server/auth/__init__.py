"""Identities: Microsoft and Google tokens, personal API tokens, web sessions, roles."""
