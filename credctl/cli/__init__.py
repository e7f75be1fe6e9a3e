"""The `credctl` command line: thin front end over the core."""
