// The web console end to end in a real browser: Playwright (playwright-core,
// no bundled browsers) drives Debian's Chromium headless against a running
// `mailgate serve` and the real test servers of tests/servers/testenv
// (Dovecot, Postfix, the test identity provider).
//
//   node console_test.mjs MAILGATE_BINARY [SCREENSHOT_DIR]
//
// Needs the MAILGATE_TEST_* variables of DIR/env.sh (scripts/test sets them)
// and `npm ci --prefix tests/browser` (scripts/install-deps runs it).
// Screenshots of every page go to SCREENSHOT_DIR (ctest: the build tree's
// tests/browser/screenshots/).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('playwright-core is not installed: run `npm ci --prefix tests/browser` ' +
                '(scripts/install-deps does it)');
  throw e;
}

const binary = process.argv[2] || process.env.MAILGATE_BINARY;
const shotDir = path.resolve(process.argv[3] || 'screenshots');
const chromiumPath = process.env.MAILGATE_CHROMIUM || '/usr/bin/chromium';

function env(name) {
  const v = process.env[`MAILGATE_TEST_${name}`];
  if (!v) {
    throw new Error(`MAILGATE_TEST_${name} is not set: start the servers with ` +
                    '`tests/servers/testenv start` and source DIR/env.sh (scripts/test does)');
  }
  return v;
}

const id = crypto.randomBytes(4).toString('hex');
const domain = env('DOMAIN');
const idpUrl = env('IDP_URL');
const mailboxUser = `support-${id}@${domain}`;   // OAuth (app-only) mailbox
const customer = `customer-${id}@${domain}`;     // password user: sends, gets the reply
const customerPassword = `pw-${id}-secret`;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailgate-browser-'));
const mgEnv = { ...process.env, MAILGATE_DATA_DIR: dataDir, MAILGATE_CA_FILE: env('CA') };

// --- What must always be cleaned up ---------------------------------------------------
let serve = null;
let browser = null;
let trap = null;
let serveOutput = '';

function killServe() {
  if (serve && serve.exitCode === null && serve.signalCode === null) {
    try { serve.kill('SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killServe);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killServe(); process.exit(1); });
}
after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (trap) trap.close();
  if (serve && serve.exitCode === null) {
    serve.kill('SIGTERM');
    const exited = new Promise((r) => serve.once('exit', r));
    const timer = setTimeout(killServe, 5000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// --- Helpers ---------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs = 30000, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}` +
                      (last ? `: ${last.message}` : ''));
    }
    await sleep(everyMs);
  }
}

function mailgate(args) {
  try {
    return execFileSync(binary, args, { env: mgEnv, encoding: 'utf8', timeout: 60000 });
  } catch (e) {
    throw new Error(`mailgate ${args.join(' ')} failed: ${e.stdout || ''}${e.stderr || ''}`);
  }
}

async function idpControl(what, body) {
  const r = await fetch(`${idpUrl}/_test/${what}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `IdP /_test/${what}: ${text}`);
  return JSON.parse(text);
}

function addPasswordUser(user, password) {
  const [cmd, ...args] = env('ADD_USER').split(' ').filter(Boolean);
  execFileSync(cmd, [...args, user, password], { stdio: 'inherit' });
}

// Sends one message by submission through the real Postfix (STARTTLS, AUTH as
// the password user `from`), as a customer's mail client would: curl speaks
// SMTP and verifies the test CA. Postfix then delivers to Dovecot by LMTP.
function submit(from, password, rcpt, message) {
  const file = path.join(dataDir, `submit-${crypto.randomBytes(4).toString('hex')}.eml`);
  fs.writeFileSync(file, message.replace(/\r?\n/g, '\r\n'));
  try {
    execFileSync('curl', [
      '--silent', '--show-error', '--max-time', '30',
      '--url', `smtp://${env('TLS_NAME')}:${env('SUBMISSION_PORT')}`,
      '--ssl-reqd', '--cacert', env('CA'), '--user', `${from}:${password}`,
      '--mail-from', from, '--mail-rcpt', rcpt, '--upload-file', file,
    ], { encoding: 'utf8' });
  } catch (e) {
    throw new Error(`submission by curl failed: ${e.stderr || e.message}`);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

// The UIDs that `UID SEARCH criteria` finds in a password user's INBOX, read
// over IMAPS by curl (which verifies the test CA) as a mail client would.
function imapSearch(user, password, criteria) {
  const out = execFileSync('curl', [
    '--silent', '--show-error', '--max-time', '30', '--cacert', env('CA'),
    '--url', `imaps://${env('TLS_NAME')}:${env('IMAPS_PORT')}/INBOX`,
    '--user', `${user}:${password}`, '--request', `UID SEARCH ${criteria}`,
  ], { encoding: 'utf8' });
  const m = /^\* SEARCH([\d ]*)/m.exec(out);
  assert.ok(m, `curl IMAP UID SEARCH answered: ${out}`);
  return m[1].trim().split(/\s+/).filter(Boolean);
}

// The files of a Dovecot user's Maildir (new/ and cur/) that contain `needle`.
function maildirHas(user, needle) {
  const [local, dom] = user.split('@');
  const root = path.join(env('MAIL_DIR'), dom, local, 'Maildir');
  for (const sub of ['new', 'cur']) {
    const dir = path.join(root, sub);
    if (!fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) {
      if (fs.readFileSync(path.join(dir, f), 'utf8').includes(needle)) return true;
    }
  }
  return false;
}

// Presses a form's Test button; its answer is the form again with the
// result and the protocol log.
async function pressTest(prefix) {
  await page.click(`#${prefix}-test`);
  await page.waitForLoadState();
  if (page.url().startsWith('chrome-error:') || await page.locator('#test-result').count() === 0) {
    await shot(page, `${prefix}-test-no-answer`);
    await sleep(300);
    throw new Error(`the ${prefix} Test gave no result (${page.url()}; serve exit ` +
                    `${serve.exitCode}, signal ${serve.signalCode})`);
  }
  const result = await page.textContent('#test-result');
  const log = await page.textContent('#test-log');
  await shot(page, `${prefix}-test`);
  return { result, log };
}

let shotNo = 0;
async function shot(page, name) {
  shotNo += 1;
  const file = path.join(shotDir, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

// Steps run in order; once one fails the rest are skipped (they build on it).
let broken = null;
async function step(t, name, fn) {
  if (broken) {
    return t.test(name, { skip: `an earlier step failed (${broken})` }, () => {});
  }
  return t.test(name, async (st) => {
    try {
      await fn(st);
    } catch (e) {
      broken = name;
      if (page) await shot(page, 'failure').catch(() => {});
      throw e;
    }
  });
}

// --- The test ---------------------------------------------------------------------------
let page = null;
let base = '';
let adminPassword = '';

test('the console in a browser', { timeout: 240000 }, async (t) => {
  assert.ok(binary && fs.existsSync(binary), `no mailgate binary at '${binary}'`);
  assert.ok(fs.existsSync(chromiumPath),
            `no Chromium at ${chromiumPath}: apt-get install chromium (scripts/install-deps)`);
  fs.mkdirSync(shotDir, { recursive: true });
  for (const f of fs.readdirSync(shotDir)) if (f.endsWith('.png')) fs.rmSync(path.join(shotDir, f));

  const subjectA = `Browser order ${id}`;
  const subjectB = `Hostile HTML ${id}`;
  const replyToken = `reply-token-${id}`;
  let trapHits = 0;
  const dialogs = [];
  const consoleErrors = [];

  await step(t, 'serve starts and prints its URL and the administrator password', async () => {
    serve = spawn(binary, ['serve', '--listen', '127.0.0.1:0'], {
      env: mgEnv, stdio: ['ignore', 'pipe', 'pipe'],
    });
    serve.stdout.on('data', (d) => { serveOutput += d; });
    serve.stderr.on('data', (d) => { serveOutput += d; });
    serve.on('exit', (code, signal) => {
      serveOutput += `\n[mailgate serve exited: code ${code}, signal ${signal}]\n`;
    });
    await waitFor('"Mailgate console:" and "Console administrator:" on serve\'s stdout', () => {
      if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}: ${serveOutput}`);
      const url = /Mailgate console: (\S+)/.exec(serveOutput);
      const admin = /Console administrator: admin \/ (\S+)/.exec(serveOutput);
      if (!url || !admin) return false;
      base = url[1].replace(/\/$/, '');
      adminPassword = admin[1];
      return true;
    }, 20000, 100);
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
                                      args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(30000);
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  });

  await step(t, 'unauthenticated requests are refused', async () => {
    const r = await fetch(`${base}/mailboxes`, { redirect: 'manual' });
    assert.ok(r.status === 302 || r.status === 303, `GET /mailboxes without a session: ${r.status}`);
    assert.match(r.headers.get('location') || '', /^\/login/);
    const api = await fetch(`${base}/api/v1/mailboxes`);
    assert.equal(api.status, 401, 'GET /api/v1/mailboxes without credentials');
    await page.goto(`${base}/scheduler`);
    assert.match(page.url(), /\/login\?next=%2Fscheduler/);
    await shot(page, 'login');
  });

  await step(t, 'sign in through the form', async () => {
    await page.fill('#password', 'wrong-password');
    await page.click('#login');
    await page.waitForSelector('#login-error');
    await page.fill('#password', adminPassword);
    await page.click('#login');
    await page.waitForURL(`${base}/scheduler`);
    assert.equal(await page.locator('#jobs').count(), 1, 'the Scheduler page after sign-in');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.httpOnly);
    assert.ok(session, `an HttpOnly session cookie: ${JSON.stringify(cookies)}`);
    assert.equal(session.sameSite, 'Strict');
  });

  await step(t, 'a POST without the CSRF token is refused', async () => {
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie };
    let r = await fetch(`${base}/transports`, {
      method: 'POST', redirect: 'manual', headers: form,
      body: 'name=evil&host=localhost&port=25&encryption=none&action=save',
    });
    assert.equal(r.status, 403, `POST /transports without csrf: ${r.status}`);
    r = await fetch(`${base}/transports`, {
      method: 'POST', redirect: 'manual', headers: form,
      body: 'csrf=forged&name=evil&host=localhost&port=25&encryption=none&action=save',
    });
    assert.equal(r.status, 403, `POST /transports with a forged csrf: ${r.status}`);
    r = await fetch(`${base}/api/v1/mailboxes`, { method: 'POST', headers: {
      'content-type': 'application/json', cookie }, body: '{"name":"evil"}' });
    assert.equal(r.status, 403, `API POST with the session cookie and no X-CSRF-Token: ${r.status}`);
    // With the session cookie, the API answers.
    r = await fetch(`${base}/api/v1/mailboxes`, { headers: { cookie } });
    assert.equal(r.status, 200);
  });

  await step(t, 'Connected Accounts: add an account (Microsoft, the test IdP) and Connect',
             async () => {
    await page.goto(`${base}/accounts`);
    await shot(page, 'accounts-empty');
    const redirectUri = (await page.textContent('#redirect-uri')).trim();
    assert.match(redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/accounts\/callback$/);
    await idpControl('clients', { client_id: `web-${id}`, client_secret: `web-secret-${id}`,
                                  redirect_uris: [redirectUri] });
    await page.fill('#name', 'web');
    await page.selectOption('#provider', 'microsoft');
    await page.fill('#client_id', `web-${id}`);
    await page.fill('#client_secret', `web-secret-${id}`);
    await page.fill('#tenant', `contoso-${id}.test`);
    await page.fill('#authority', idpUrl);
    await page.click('#account-save');
    await page.waitForURL(/\/accounts\?saved=web/);
    await page.locator('#account-web').getByText('not connected').waitFor();
    // Connect: the console sends the browser to the IdP's /authorize, which
    // approves at once (test mode) and comes back to the console's callback.
    await page.click('#account-connect-web');
    await page.waitForSelector('#connected');
    await shot(page, 'account-connected');
    // The page returns to Connected Accounts by itself (a meta refresh).
    await page.waitForURL(`${base}/accounts`);
    await page.locator('#account-web').getByText('connected', { exact: true }).waitFor();
  });

  await step(t, 'Connected Accounts: an app-only account (client credentials)', async () => {
    await idpControl('clients', {
      client_id: `app-${id}`, client_secret: `app-secret-${id}`,
      app_permissions: ['IMAP.AccessAsApp', 'POP.AccessAsApp', 'SMTP.SendAsApp'],
      app_mailbox: mailboxUser,
    });
    await page.goto(`${base}/accounts`);
    await page.fill('#name', 'app');
    await page.selectOption('#provider', 'microsoft');
    await page.fill('#client_id', `app-${id}`);
    await page.fill('#client_secret', `app-secret-${id}`);
    await page.fill('#tenant', `contoso-${id}.test`);
    await page.fill('#authority', idpUrl);
    await page.click('#account-save');
    await page.waitForURL(/\/accounts\?saved=app/);
    // Connect app-only: the console fetches the token itself (client
    // credentials) and says so.
    await page.click('#account-connect-app-app');
    await page.waitForSelector('#connected');
    assert.match(await page.textContent('#connected'), /app-only/);
    await page.goto(`${base}/accounts`);
    await page.locator('#account-app').getByText('connected', { exact: true }).waitFor();
    await shot(page, 'accounts');
  });

  await step(t, 'Email Transports: Postfix submission, STARTTLS, XOAuth2 with the app account; Test',
             async () => {
    // The customer is a password user of the same servers: it sends the
    // messages below and receives the reply.
    addPasswordUser(customer, customerPassword);
    await page.goto(`${base}/transports`);
    await shot(page, 'transports-empty');
    await page.goto(`${base}/transports/new`);
    await page.fill('#name', 'Outgoing');
    await page.fill('#host', env('TLS_NAME'));
    await page.fill('#port', env('SUBMISSION_PORT'));
    await page.selectOption('#encryption', 'starttls');
    await page.check('#auth_enabled');
    await page.fill('#username', mailboxUser);
    await page.selectOption('#account', 'app');
    const test = await pressTest('transport');
    assert.match(test.result, /Test succeeded/, `transport Test: ${test.result}\n${test.log}`);
    assert.match(test.log, /XOAUTH2/, `transport Test log: ${test.log}`);
    assert.doesNotMatch(test.log, /error:/, `transport Test log: ${test.log}`);
    await page.click('#transport-save');
    await page.waitForURL(/\/transports\/Outgoing\?saved=1/);
    await page.goto(`${base}/transports`);
    await page.locator('#transports').getByRole('link', { name: 'Outgoing', exact: true }).waitFor();
    await shot(page, 'transports');
  });

  await step(t, 'Email Mailboxes: IMAP TLS with the app account; Test', async () => {
    await page.goto(`${base}/mailboxes`);
    await shot(page, 'mailboxes-empty');
    const fill = async () => {
      await page.goto(`${base}/mailboxes/new`);
      await page.fill('#name', 'Support');
      await page.selectOption('#protocol', 'imap/tls');
      await page.fill('#host', env('TLS_NAME'));
      await page.fill('#port', env('IMAPS_PORT'));
      await page.fill('#username', mailboxUser);
      await page.selectOption('#account', 'app');
    };
    await fill();
    const test = await pressTest('mailbox');
    assert.match(test.log, /Connected to your mailbox successfully!/,
                 `mailbox Test log: ${test.log}`);
    await page.click('#mailbox-save');
    await page.waitForURL(/\/mailboxes\/Support/);
    await page.goto(`${base}/mailboxes`);
    await page.locator('#mailboxes').getByRole('link', { name: 'Support', exact: true }).waitFor();
    await shot(page, 'mailboxes');
  });

  await step(t, 'the customer sends two messages (one plain, one hostile HTML) by submission',
             async () => {
    trap = http.createServer((req, res) => { trapHits += 1; res.end('gotcha'); });
    await new Promise((r) => trap.listen(0, '127.0.0.1', r));
    const trapUrl = `http://127.0.0.1:${trap.address().port}/x`;
    const date = new Date().toUTCString().replace('GMT', '+0000');
    submit(customer, customerPassword, mailboxUser, [
      `From: Customer ${id} <${customer}>`, `To: ${mailboxUser}`, `Subject: ${subjectA}`,
      `Date: ${date}`, `Message-ID: <a-${id}@browser.test>`, 'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8', '', `Hello from the browser test ${id}.`, '',
    ].join('\r\n'));
    submit(customer, customerPassword, mailboxUser, [
      `From: Mallory <${customer}>`, `To: ${mailboxUser}`, `Subject: ${subjectB}`,
      `Date: ${date}`, `Message-ID: <b-${id}@browser.test>`, 'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8', '',
      '<html><body><p>Hostile</p>',
      '<script>window.__mgScript = 1; alert("script ran")</script>',
      `<img src="nonexistent.png" onerror="window.__mgOnerror = 1; alert('onerror ran')">`,
      `<img src="${trapUrl}" alt="remote">`,
      `<div style="background:url(${trapUrl}?css)">styled</div>`,
      '<a href="javascript:alert(3)">link</a>',
      '</body></html>', '',
    ].join('\r\n'));
    // Postfix delivers in the background: wait until both reached the mailbox
    // (the scheduler's own minutely check may already have taken them).
    await waitFor('both messages delivered to the mailbox', async () =>
      (maildirHas(mailboxUser, subjectA) && maildirHas(mailboxUser, subjectB)) ||
      /[1-9]\d* downloaded/.test(await (await page.context().request.get(`${base}/scheduler`))
        .text()), 30000, 250);
  });

  let checkRun = '';
  await step(t, 'Scheduler: run the mailbox checker now; its log shows the mailbox session',
             async () => {
    await page.goto(`${base}/scheduler`);
    await shot(page, 'scheduler');
    await page.click('#run-now-check');
    await page.waitForSelector('#job-started');
    // The checker may also have started by itself; any finished check run of
    // Support whose log shows the session will do.
    checkRun = await waitFor('a finished check run of Support whose log shows the session',
                             async () => {
      await page.goto(`${base}/scheduler`);
      const rows = page.locator('#runs tr', { hasText: 'Support' }).filter({ hasText: 'check' });
      for (const link of await rows.locator('a').all()) {
        const href = await link.getAttribute('href');
        const r = await page.context().request.get(`${base}${href}`);
        const html = await r.text();
        if (/Status: <strong>running/.test(html)) continue;
        // A run that downloaded mail (not an earlier empty one).
        if (html.includes('Connected to mailbox') && html.includes('Closed mailbox') &&
            /\b[1-9]\d* downloaded\b/.test(html)) return href;
      }
      return false;
    }, 45000, 1000);
    await page.goto(`${base}${checkRun}`);
    const log = await page.textContent('#run-log');
    await shot(page, 'check-run');
    assert.match(log, /Connected to mailbox 'Support'/);
    assert.match(log, /Closed mailbox/);
    assert.match(await page.textContent('body'), /[1-9]\d* downloaded/);
  });

  let conversationA = '';
  let conversationB = '';
  await step(t, 'Scheduler: run the processor now; the conversations appear and search finds one', async () => {
    await page.goto(`${base}/scheduler`);
    await page.click('#run-now-process');
    await page.waitForSelector('#job-started');
    await waitFor('both conversations on the Conversations page', async () => {
      await page.goto(`${base}/conversations`);
      const a = page.locator('#conversations a', { hasText: subjectA });
      const b = page.locator('#conversations a', { hasText: subjectB });
      if (await a.count() === 0 || await b.count() === 0) {
        // Give the processor another push, as an administrator would.
        await page.goto(`${base}/scheduler`);
        await page.click('#run-now-process');
        return false;
      }
      conversationA = await a.first().getAttribute('href');
      conversationB = await b.first().getAttribute('href');
      return true;
    }, 45000, 1500);
    await page.goto(`${base}/conversations`);
    await shot(page, 'conversations');
    // Search by subject: the one conversation, not the other.
    await page.fill('#q', subjectA);
    await page.click('#search');
    await page.waitForURL(/\/conversations\?q=/);
    assert.equal(await page.locator('#conversations a', { hasText: subjectA }).count(), 1);
    assert.equal(await page.locator('#conversations a', { hasText: subjectB }).count(), 0);
  });

  await step(t, 'hostile HTML: no script, no event handler, no remote load', async () => {
    const before = dialogs.length;
    await page.goto(`${base}${conversationB}`);
    await page.waitForSelector('iframe.body');
    await sleep(1500);  // time for anything that would load or run
    await shot(page, 'conversation-hostile');
    assert.equal(dialogs.length, before, `dialogs opened: ${dialogs.join(' | ')}`);
    for (const frame of page.frames()) {
      const flags = await frame.evaluate(() => [window.__mgScript, window.__mgOnerror])
        .catch(() => [undefined, undefined]);
      assert.deepEqual(flags, [undefined, undefined], `script ran in frame ${frame.url()}`);
    }
    const srcdoc = await page.getAttribute('iframe.body', 'srcdoc');
    assert.doesNotMatch(srcdoc, /<script|onerror|javascript:/i, `sanitized body: ${srcdoc}`);
    assert.equal(await page.getAttribute('iframe.body', 'sandbox'), '',
                 'the body frame is sandboxed with no allowances');
    assert.match(await page.textContent('body'), /remote image\(s\) blocked/);
    assert.equal(trapHits, 0, 'the remote image/CSS URL was fetched');
  });

  await step(t, 'reply through the form; the reply reaches the customer\'s INBOX', async () => {
    await page.goto(`${base}${conversationA}`);
    await shot(page, 'conversation');
    assert.equal(await page.inputValue('#to'), customer, 'the reply goes to the sender');
    assert.equal(await page.inputValue('#subject'), `Re: ${subjectA}`);
    await page.fill('#body', `Thanks! ${replyToken}`);
    await page.click('#reply-send');
    await page.waitForURL(/\?queued=1/);
    await shot(page, 'reply-queued');
    await waitFor(`the reply (${replyToken}) in ${customer}'s IMAP INBOX`,
                  () => imapSearch(customer, customerPassword,
                                   `FROM "${mailboxUser}" BODY "${replyToken}"`).length === 1,
                  45000, 1000);
    // The sent message joins its conversation.
    await waitFor('the sent reply in the conversation', async () => {
      await page.goto(`${base}${conversationA}`);
      return (await page.textContent('body')).includes(replyToken);
    }, 20000, 1000);
    await shot(page, 'conversation-replied');
    assert.equal(dialogs.length, 0, `dialogs opened: ${dialogs.join(' | ')}`);
  });

  await step(t, 'Alerts and API Tokens pages render', async () => {
    await page.goto(`${base}/alerts`);
    await shot(page, 'alerts');
    await page.goto(`${base}/tokens`);
    await shot(page, 'tokens');
    assert.equal(trapHits, 0, 'the remote image URL was fetched');
  });

  if (broken) {
    console.log(`# serve's output:\n${serveOutput.replace(/^/gm, '#   ')}`);
    if (consoleErrors.length) console.log(`# browser console errors: ${consoleErrors.join(' | ')}`);
  }
  console.log(`# screenshots: ${shotDir}`);
});
