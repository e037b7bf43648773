"""Notifications to a user (TRK-6): a list with read/unread, and a live stream (SSE)."""
