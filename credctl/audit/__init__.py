"""The audit trail: who read or changed which credential, when, from where.

`credctl.audit.trail` appends sealed, chained entries (it is on ``get-token``'s
path and imports little); reading, verifying, filtering, exporting,
checkpoints and pruning live in the other modules and load only when used.
The public types (`AuditFilter`, `AuditEntry`, `AuditAction`, `ExportFormat`)
are in `credctl.audit.model` and re-exported from `credctl`.
"""
