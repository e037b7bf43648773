"""`liaison import ...` (being written)."""

import click

import_group = click.Group("import", help="Import records from CSV.")
