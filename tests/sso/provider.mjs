// A real OpenID Connect provider for the tests: node-oidc-provider (the `oidc-provider` npm package,
// OpenID certified) on loopback, with one client and one login page the test fills in over HTTP.
//
// Run by tests/sso/conftest.py from a copy beside the package's node_modules (so `import
// 'oidc-provider'` resolves). Configuration comes from the environment:
//   PORT           the loopback port to listen on
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI   the one client (prikbord)
//   ACCOUNTS       JSON {"login": {"email": "...", "name": "..."}}
// When it listens it prints one line `listening <issuer>`.
//
// `POST /test/misbehave` with a body `tamper` | `issuer` | `audience` | `none` makes the next token
// responses carry a damaged ID token (the signature broken; or re-signed with the provider's own key
// but naming another issuer or audience), so the tests can prove prikbord refuses each.

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

let misbehaviour = 'none';

const configuration = {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false, // the email goes into the ID token itself
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: account.email, email_verified: true, name: account.name };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // A first-party client: the grant is given without a consent screen.
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;

function base64url(input) {
  return Buffer.from(input).toString('base64url');
}

function damaged(idToken) {
  const [header, payload, signature] = idToken.split('.');
  if (misbehaviour === 'tamper') {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.email = 'someone.else@example.org'; // the signature no longer matches
    return `${header}.${base64url(JSON.stringify(claims))}.${signature}`;
  }
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  if (misbehaviour === 'issuer') claims.iss = 'http://127.0.0.1:1/another-provider';
  if (misbehaviour === 'audience') claims.aud = 'another-client';
  const body = `${header}.${base64url(JSON.stringify(claims))}`;
  const sig = crypto.createSign('RSA-SHA256').update(body).sign(privateKey);
  return `${body}.${base64url(sig)}`;
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && misbehaviour !== 'none' && ctx.body && ctx.body.id_token) {
    ctx.body = { ...ctx.body, id_token: damaged(ctx.body.id_token) };
  }
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<form method="post" action="/interaction/${details.uid}">`
      + `<input name="login"><button>Sign in</button></form>`);
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  if (details.prompt.name === 'login') {
    const login = form.get('login') || '';
    if (!accounts[login]) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('unknown login');
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    if (req.url.startsWith('/interaction/')) {
      await interaction(req, res);
    } else if (req.url === '/test/misbehave' && req.method === 'POST') {
      misbehaviour = (await readBody(req)).trim();
      res.writeHead(204);
      res.end();
    } else {
      callback(req, res);
    }
  } catch (err) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(String(err && err.message));
  }
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
