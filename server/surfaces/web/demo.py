"""`liaison demo` (being written)."""

import click


@click.command("demo")
def demo() -> None:
    """Seed a demo org and serve it on 127.0.0.1."""
    raise click.ClickException("not yet")
