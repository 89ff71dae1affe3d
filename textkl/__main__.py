"""``python -m textkl``: the command line, as the ``textkl`` script runs it."""

from textkl.cli import cli

cli(prog_name="textkl")
