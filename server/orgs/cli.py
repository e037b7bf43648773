"""`liaison users ...` (being written)."""

import click

users = click.Group("users", help="Manage users.")
