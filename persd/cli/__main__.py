"""`python -m persd.cli`."""

from persd.cli import main

main()
