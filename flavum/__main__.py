"""`python -m flavum` runs the CLI."""

from flavum.cli import main

main()
