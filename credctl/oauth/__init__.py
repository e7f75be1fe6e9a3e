"""OAuth 2.0 for credctl, on authlib and httpx: logins, machine clients and refreshes.

- `providers`: endpoints from a preset, OIDC / RFC 8414 discovery or explicit URLs;
- `settings` and `flows`: pending interactive logins kept in the vault until they expire;
- `loopback`: the browser login on a 127.0.0.1 redirect (PKCE S256, RFC 8252);
- `device`: the device authorization grant (RFC 8628);
- `client_credentials`: machine clients whose token is fetched on demand;
- `refresh`: renewal under the vault lock, so a rotated refresh token is spent once;
- `expiry`: when a token must be renewed (standard library only: `get-token` reads it).

Nothing here is imported by ``import credctl``, and authlib and httpx are imported only
inside the functions that talk to a provider, so `get-token` of a valid token never
loads them (SPEC §8).
"""
