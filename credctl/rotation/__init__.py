"""Rotation without storage: policies, due dates, cron, generated secrets, rotation hooks.

Nothing here opens a vault: `credctl.records.rotation` runs the steps of a
rotation under the record layer's transactions and calls into these modules
for the parts that need no storage (as `credctl.records.oauth` calls
`credctl.oauth`).  `cronsim` is imported by `credctl.rotation.due` alone, and
only when a cron schedule is evaluated.
"""
