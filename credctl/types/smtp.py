"""`smtp`: a mail server account (SPEC §2).

``get-token`` gives the password, the one secret; ``env`` exports every field that
is set so a mailer can be configured from ``NAME_HOST``, ``NAME_PORT`` … alone.
`port` defaults to 587 (submission, RFC 6409) and `use_tls` to true, so a
credential created with only host, username and password is safe to use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from credctl.errors import InvalidInput
from credctl.types.base import CredentialType, FieldSpec, field_map


class SmtpType(CredentialType):
    """SMTP host, port and login; no header form."""

    name = "smtp"
    description = "an SMTP server login for sending mail"
    fields = field_map(
        FieldSpec("host", required=True, description="the SMTP server host name"),
        FieldSpec("port", kind="int", default=587, description="the server port, 1–65535"),
        FieldSpec("username", required=True, description="the login name"),
        FieldSpec("password", secret=True, required=True, description="the login password"),
        FieldSpec("use_tls", kind="bool", default=True, description="whether to use TLS"),
        FieldSpec("from_email", description="the sender address"),
        FieldSpec("from_name", description="the sender display name"),
    )
    env_fields = tuple(fields)

    def _finish(self, data: dict[str, Any]) -> None:
        if not 1 <= data["port"] <= 65535:
            raise InvalidInput("field 'port' must be from 1 to 65535")

    def _exported(self, data: Mapping[str, Any]) -> Iterable[str]:
        return [field for field in self.env_fields if data.get(field) is not None]

    def token(self, data: Mapping[str, Any]) -> str:
        """The password."""
        return self.stored(data, "password")
