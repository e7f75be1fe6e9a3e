"""``credctl serve``: the Credentials REST API of SPEC §6 for workflow engines.

One more front end over `credctl.manager.CredentialManager` (built with origin
``api``): every request acts, through `CredentialManager.acting_as`, as the user
its bearer token belongs to, and sees only that user's credentials.

`credctl.server.app` (FastAPI) is imported only by ``credctl serve``; this package
itself imports nothing, so `credctl.server.tokens` costs the CLI no FastAPI.
"""
