"""`python -m credctl` runs the command line."""

from credctl.cli.main import main

main()
