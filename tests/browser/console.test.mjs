// The staff console in a real browser: Debian's chromium driven by playwright-core, run by
// `node --test`. Starts tsh-sim (the OTP gateway and TSH) and tsh-issuer on free loopback ports
// with a throw-away store, plays the simulator's token-for-token and yellow-otp scenarios, then,
// as an operator would: signs in, searches the COF token by its original token reference id,
// opens it, suspends it with a reason through the confirmation step, sees the transition TSH
// confirmed, follows the navigation to a reconciliation run, checks the CSP header and cookie flags, and saves screenshots of the main pages under
// target/console-screenshots/. Binaries: target/debug (built by `cargo test`), or
// TSH_ISSUER_BIN / TSH_SIM_BIN.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = (name, env) => process.env[env] || join(ROOT, 'target', 'debug', name);
const ISSUER_BIN = BIN('tsh-issuer', 'TSH_ISSUER_BIN');
const SIM_BIN = BIN('tsh-sim', 'TSH_SIM_BIN');
const SHOTS = join(ROOT, 'target', 'console-screenshots');
const OPERATOR = 'dev-operator-token';
const VIEWER = 'viewer-token-for-the-browser-test';

const work = mkdtempSync(join(tmpdir(), 'tsh-console-browser-'));
const children = [];
let issuer, sim, browserContext;

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function start(bin, args, env) {
  const child = spawn(bin, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  children.push(child);
  return { child, log: () => log };
}

async function waitFor(url, what, proc) {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up; its log:\n${proc.log()}`);
}

async function api(path) {
  const r = await fetch(`${issuer.url}${path}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

before(async () => {
  for (const bin of [ISSUER_BIN, SIM_BIN]) {
    assert.ok(existsSync(bin), `${bin} missing: run cargo build (or cargo test) first`);
  }
  mkdirSync(SHOTS, { recursive: true });
  const [simPort, issuerPort] = [await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const issuerUrl = `http://127.0.0.1:${issuerPort}`;
  const simProc = start(SIM_BIN, ['serve', '--bind', `127.0.0.1:${simPort}`, '--issuer-url', issuerUrl, '--tsh-key', 'fixtures/tsh-dev'], {});
  await waitFor(`${simUrl}/tsh/tokens`, 'tsh-sim serve', simProc);
  const viewerHash = createHash('sha256').update(VIEWER).digest('hex');
  const issuerProc = start(ISSUER_BIN, ['serve'], {
    TSH_ISSUER_ENV: 'local',
    TSH_ISSUER__SERVER__BIND: `127.0.0.1:${issuerPort}`,
    TSH_ISSUER__SERVER__WORKERS: '2',
    TSH_ISSUER__STORE__PATH: join(work, 'store'),
    TSH_ISSUER__OTP__WEBHOOK_URL: `${simUrl}/otp`,
    TSH_ISSUER__TSH__BASE_URL: `${simUrl}/gtep/igwapi/v2.0`,
    TSH_ISSUER__STAFF__TOKENS: JSON.stringify([{ name: 'vera', sha256: viewerHash, role: 'viewer' }]),
  });
  await waitFor(`${issuerUrl}/health/ready`, 'tsh-issuer', issuerProc);
  sim = { url: simUrl, proc: simProc };
  issuer = { url: issuerUrl, proc: issuerProc };
  // The simulator plays TSH and the wallets: a COF token from a device token, and a yellow step-up.
  await promisify(execFile)(SIM_BIN, ['run', 'token-for-token', 'yellow-otp', '--url', issuerUrl, '--gateway', simUrl], { cwd: ROOT })
    .catch((e) => { throw new Error(`tsh-sim run failed:\n${e.stdout}\n${e.stderr}`); });
  browserContext = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
  });
});

after(async () => {
  await browserContext?.close().catch(() => {});
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  rmSync(work, { recursive: true, force: true });
});

/** The COF token the token-for-token scenario made, registered with the simulator's TSH. */
async function cofToken() {
  const tokens = await api('/api/v1/tokens?count=100');
  const cof = tokens.data.find((t) => t.token_for_token);
  assert.ok(cof, `no active token-for-token token among ${JSON.stringify(tokens.data.map((t) => t.virtual_card_id))}`);
  if (cof.state === 'ACTIVE') {
    const r = await fetch(`${sim.url}/tsh/tokens`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ issuer_card_ref_id: cof.issuer_card_ref_id, virtual_card_id: cof.virtual_card_id, state: 'ACTIVE' }),
    });
    assert.equal(r.status, 200, 'the simulator TSH knows the token');
  }
  return cof;
}

async function signIn(page, token) {
  await page.goto(`${issuer.url}/console/`);
  assert.match(page.url(), /\/console\/login$/, 'no session: the sign-in page');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(/\/console\/?$/), page.click('button[type=submit]')]);
}

async function shoot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

test('an operator signs in, finds the token, suspends it with a reason and sees the transition', async () => {
  const cof = await cofToken();
  const reference = cof.original_token.token_reference_id;
  const page = await browserContext.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/console/login')) problems.push(`${r.status()} ${r.url()}`); });
  page.on('request', (r) => { if (!r.url().startsWith(issuer.url)) problems.push(`third-party request ${r.url()}`); });

  await page.goto(`${issuer.url}/console/login`);
  await shoot(page, '01-sign-in');
  await signIn(page, OPERATOR);
  const cookies = await browserContext.cookies(`${issuer.url}/console/`);
  const session = cookies.find((c) => c.name === 'tsh_console_session');
  assert.ok(session, 'session cookie set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(session.expires > Date.now() / 1000, 'the cookie expires');
  await shoot(page, '02-search-home');

  await page.fill('input[name=q]', reference);
  await Promise.all([page.waitForURL(/\/console\/search\?q=/), page.click('form.searchbox button')]);
  await page.getByRole('link', { name: cof.virtual_card_id }).first().waitFor();
  await shoot(page, '03-search-results');
  await Promise.all([page.waitForURL(/\/console\/tokens\//), page.getByRole('link', { name: cof.virtual_card_id }).first().click()]);
  assert.ok(await page.getByText('Token-for-token lineage').isVisible());
  assert.ok(await page.getByText(reference).first().isVisible(), 'lineage shows the original reference');
  await shoot(page, '04-token');

  await page.selectOption('select[name=action]', 'suspend');
  await page.selectOption('select[name=reason_code]', '06');
  await page.fill('input[name=reason]', 'browser test: suspicious device');
  await Promise.all([page.waitForURL(/\/action$/), page.click('#actions button[type=submit]')]);
  assert.ok(await page.getByRole('heading', { name: 'Confirm: Suspend token' }).isVisible());
  await shoot(page, '05-confirm-suspend');
  await Promise.all([page.waitForURL(/\?op=/), page.click('button.danger')]);

  // TSH (the simulator) confirms with a notification; reload until the new transition shows.
  let seen = false;
  for (let i = 0; i < 50 && !seen; i++) {
    seen = await page.locator('#history').getByText('browser test: suspicious device').isVisible();
    if (!seen) { await new Promise((r) => setTimeout(r, 200)); await page.reload(); }
  }
  assert.ok(seen, 'the suspend transition with its reason is on the token page');
  assert.ok(await page.locator('#history').getByText('state.suspended').isVisible());
  await shoot(page, '06-token-suspended');

  const decisionLink = page.locator('a[href^="/console/decisions/"]').first();
  await Promise.all([page.waitForURL(/\/console\/decisions\//), decisionLink.click()]);
  assert.ok(await page.getByRole('heading', { name: 'Rules evaluated' }).isVisible());
  await shoot(page, '07-decision');

  for (const [path, name] of [['/console/standins', '08-standins'], ['/console/rules', '09-rules'], ['/console/audit', '10-audit']]) {
    const response = await page.goto(`${issuer.url}${path}`);
    assert.equal(response.status(), 200, path);
    await shoot(page, name);
  }
  // Reconciliation: one run for the COF token's card, reached from the navigation bar.
  const run = await fetch(`${issuer.url}/api/v1/reconciliations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify({ issuer_card_ref_id: cof.issuer_card_ref_id }),
  });
  assert.equal(run.status, 200, 'a reconciliation run');
  const { reconciliation_id: runId } = await run.json();
  await Promise.all([page.waitForURL(/\/console\/reconciliations$/), page.locator('nav.mainnav a', { hasText: 'Reconciliation' }).click()]);
  await shoot(page, '12-reconciliations');
  await Promise.all([page.waitForURL(/\/console\/reconciliations\/rec-/), page.getByRole('link', { name: runId }).click()]);
  assert.ok(await page.getByRole('heading', { name: /^Drift/ }).isVisible());
  await shoot(page, '13-reconciliation-run');
  const enrolment = cof.correlation_id;
  if (enrolment) {
    await page.goto(`${issuer.url}/console/enrollments/${encodeURIComponent(enrolment)}`);
    await shoot(page, '11-enrolment');
  }
  assert.deepEqual(problems, [], 'no console errors (CSP violations) and no third-party requests');
  await page.close();
});

test('every console response carries the strict Content-Security-Policy', async () => {
  const page = await browserContext.newPage();
  for (const path of ['/console/login', '/console/', '/console/rules', '/console/static/console.css']) {
    const response = await page.goto(`${issuer.url}${path}`);
    const csp = response.headers()['content-security-policy'] || '';
    assert.match(csp, /^default-src 'self'/, `${path}: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
  }
  await page.close();
});

test('a viewer sees no action buttons, and a wrong token is turned away generically', async () => {
  const context = await chromium.launchPersistentContext(join(work, 'chromium-viewer'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    await page.goto(`${issuer.url}/console/login`);
    await page.fill('input[name=token]', 'definitely-not-a-staff-token');
    await page.click('button[type=submit]');
    assert.ok(await page.getByText('Sign-in failed').isVisible());
    await signIn(page, VIEWER);
    const cof = await cofToken();
    await page.goto(`${issuer.url}/console/tokens/${encodeURIComponent(cof.virtual_card_id)}`);
    assert.equal(await page.locator('#actions').count(), 0, 'no actions for viewers');
    assert.ok(await page.getByText('vera').isVisible());
  } finally {
    await context.close();
  }
});
