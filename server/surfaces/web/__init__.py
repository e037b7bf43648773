"""Web app pages (Jinja) and the demo sign-in."""
