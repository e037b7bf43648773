"""Organizations, users, settings with declared defaults and locks, audit of settings."""
