"""``python -m scalepath``: the ``scalepath`` command line."""

from scalepath.cli import app

app()
