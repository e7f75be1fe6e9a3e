"""The record layer: the one owner of credential records (see `credctl.records.store`).

Everything above it (the manager, and through it every front end) reads and
writes credentials here; everything below it (`credctl.storage`) only keeps
records.  Import the submodules directly; this package re-exports nothing, so
that importing one part never loads the others.
"""
