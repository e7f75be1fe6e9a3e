// A real OpenID provider for credctl's OAuth tests: the npm package oidc-provider on 127.0.0.1.
//
//   node provider.mjs --port 0 [--at-ttl 6] [--events FILE]
//
// It prints one JSON line {"ready": true, "issuer": "http://127.0.0.1:PORT"} on stdout once it
// listens, then one JSON line per event (no token or code values, only what happened).  Tests
// also read the events at GET /__test/events and count refresh-token grants there.
//
// Clients (all test-only, obviously fake secrets):
//   credctl-native  public native client (token_endpoint_auth_method none, PKCE required) with
//                   the loopback redirect http://127.0.0.1/callback (any port, RFC 8252 §7.3),
//                   authorization_code + refresh_token + device_code grants;
//   credctl-device-short  like credctl-native but its device codes expire after 6 s;
//   credctl-machine confidential client (client_secret_basic) for client_credentials.
// The one account is "test-user" (devInteractions' login page accepts any name; findAccount
// only knows this one).  Access tokens live --at-ttl seconds, refresh tokens rotate, and a
// replayed refresh token revokes the whole grant (oidc-provider's default).

import { parseArgs } from 'node:util';
import { appendFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PROVIDER_PORT || '0' },
    'at-ttl': { type: 'string', default: process.env.PROVIDER_AT_TTL || '6' },
    events: { type: 'string', default: process.env.PROVIDER_EVENTS || '' },
  },
});

export const TEST_USER = 'test-user';
export const MACHINE_SECRET = 'FAKE-machine-client-secret-0123456789';
const atTtl = Number.parseInt(args['at-ttl'], 10);

const events = [];
function record(event) {
  const entry = { t: Date.now() / 1000, ...event };
  events.push(entry);
  const line = JSON.stringify(entry);
  process.stdout.write(`${line}\n`);
  if (args.events) appendFileSync(args.events, `${line}\n`);
}

const nativeClient = {
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
};

const configuration = {
  clients: [
    { ...nativeClient, client_id: 'credctl-native', client_name: 'credctl tests' },
    { ...nativeClient, client_id: 'credctl-device-short', client_name: 'credctl short device' },
    {
      client_id: 'credctl-machine',
      client_secret: MACHINE_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
  ],
  scopes: ['openid', 'offline_access', 'api:read'],
  claims: { openid: ['sub'], profile: ['name'] },
  async findAccount(_ctx, sub) {
    if (sub !== TEST_USER) return undefined;
    return { accountId: sub, async claims() { return { sub, name: 'Test User' }; } };
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: {
      enabled: true,
      // The default pages import a web font from the internet; these are self-contained.
      async userCodeInputSource(ctx, form, _out, err) {
        const msg = err ? '<p class="error">The code was not accepted</p>' : '<p>Enter the code</p>';
        ctx.body = `<!DOCTYPE html><html><head><title>Device sign-in</title></head><body>
          <h1>Device sign-in</h1>${msg}${form}
          <button type="submit" form="op.deviceInputForm">Continue</button></body></html>`;
      },
      async userCodeConfirmSource(ctx, form, client, _info, userCode) {
        ctx.body = `<!DOCTYPE html><html><head><title>Confirm device</title></head><body>
          <h1>Confirm device</h1><p>${client.clientId}: <code>${userCode}</code></p>${form}
          <button autofocus type="submit" form="op.deviceConfirmForm">Continue</button>
          <button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>
          </body></html>`;
      },
      async successSource(ctx) {
        ctx.body = '<!DOCTYPE html><html><head><title>Sign-in Success</title></head>'
          + '<body><h1>Sign-in Success</h1></body></html>';
      },
    },
    clientCredentials: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: atTtl,
    ClientCredentials: atTtl,
    AuthorizationCode: 60,
    DeviceCode(_ctx, _token, client) {
      return client && client.clientId === 'credctl-device-short' ? 6 : 600;
    },
    RefreshToken: 24 * 60 * 60,
    Grant: 24 * 60 * 60,
    Session: 24 * 60 * 60,
    Interaction: 10 * 60,
    IdToken: 60 * 60,
  },
  cookies: { keys: ['FAKE-cookie-signing-key-for-tests-only'] },
};

const server = (await import('node:http')).createServer();
await new Promise((resolve) => { server.listen(Number.parseInt(args.port, 10), '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, configuration);

provider.on('grant.success', (ctx) => {
  record({ event: 'grant.success', grant_type: ctx.oidc.params.grant_type, client_id: ctx.oidc.client?.clientId });
});
provider.on('grant.error', (ctx, err) => {
  record({ event: 'grant.error', grant_type: ctx.oidc.params?.grant_type, error: err.error, client_id: ctx.oidc.client?.clientId });
});
provider.on('grant.revoked', (_ctx, grantId) => { record({ event: 'grant.revoked', grant: grantId.slice(0, 6) }); });
provider.on('authorization.success', (ctx) => {
  record({ event: 'authorization.success', client_id: ctx.oidc.client?.clientId });
});
provider.on('authorization.error', (_ctx, err) => { record({ event: 'authorization.error', error: err.error }); });
provider.on('server_error', (_ctx, err) => { record({ event: 'server_error', message: String(err && err.message) }); });

// Test-only endpoints, outside the provider's own routes.
provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/events' && ctx.method === 'GET') {
    ctx.type = 'json';
    ctx.body = JSON.stringify(events);
    return;
  }
  await next();
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ ready: true, issuer, port })}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.close(); server.closeAllConnections(); process.exit(0); });
}
