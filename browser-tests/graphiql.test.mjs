// Real-browser test of each BFF's GraphiQL, run by `node --test` (see run.sh, which starts the
// stack first): Debian's Chromium opens /graphiql with every request to a host other than
// 127.0.0.1 blocked (and recorded: none may even be attempted), checks the example operations
// are there, clicks Run on the first one and finds real data in the result pane, then saves a
// screenshot under output/.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const HOST = '127.0.0.1';
const OUTPUT = new URL('./output/', import.meta.url);

// Each BFF: where it runs, what its examples must cover, and what data the first one returns.
const BFFS = [
  {
    name: 'bff-mobile',
    url: process.env.MOBILE_URL ?? `http://${HOST}:4001`,
    examples: ['home {', 'product(id:'],
    data: (d) => d.home.viewer.name,
  },
  {
    name: 'bff-web',
    url: process.env.WEB_URL ?? `http://${HOST}:4002`,
    examples: ['product(id:', 'search:'],
    data: (d) => d.product.name,
  },
  {
    name: 'bff-admin',
    url: process.env.ADMIN_URL ?? `http://${HOST}:4003`,
    examples: ['dashboard(', 'updateOrderStatus('],
    data: (d) => String(d.dashboard.totalOrders),
  },
];

let browser;

before(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

describe('GraphiQL works offline and runs the example', () => {
  for (const bff of BFFS) {
    test(`${bff.name}: GraphiQL loads from the BFF alone and Run returns data`, { timeout: 120_000 }, async (t) => {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const offHost = []; // every request to another host that was attempted
      const graphqlAuth = []; // the Authorization header of each /graphql request
      const problems = []; // console errors and uncaught page errors
      let requests = 0;
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === HOST) return route.continue();
        offHost.push(url.href);
        return route.abort('blockedbyclient');
      });
      context.on('request', (request) => {
        const url = new URL(request.url());
        if (url.protocol === 'data:' || url.protocol === 'blob:') return;
        requests += 1;
        if (url.hostname !== HOST) offHost.push(url.href);
        if (url.pathname === '/graphql') graphqlAuth.push(request.headers().authorization ?? '');
      });
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('response', async (response) => {
        if (response.status() >= 400) {
          const body = await response.text().catch(() => '');
          problems.push(`HTTP ${response.status()} from ${response.url()}: ${body.slice(0, 300)}`);
        }
      });

      try {
        const started = Date.now();
        const response = await page.goto(`${bff.url}/graphiql`, { waitUntil: 'load' });
        assert.equal(response.status(), 200, 'GET /graphiql');

        // The example operations: one tab each, covering what this client needs.
        const config = JSON.parse(await page.locator('#graphiql-config').textContent());
        const documents = config.tabs.map((tab) => tab.query).join('\n');
        for (const example of bff.examples) {
          assert.ok(documents.includes(example), `an example operation uses ${example}`);
        }
        assert.ok(config.tabs.length >= 2, 'one tab per example operation');
        assert.match(config.headers ?? '', /Authorization.*Bearer /s, 'dev token pre-filled');

        const run = page.locator('.graphiql-execute-button');
        await run.waitFor({ state: 'visible', timeout: 60_000 });
        const tabTitles = await page.locator('.graphiql-tab-button').allTextContents();
        assert.equal(tabTitles.length, config.tabs.length, `tabs: ${tabTitles.join(', ')}`);
        await page.waitForFunction(
          () => document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue().length > 0,
          null,
          { timeout: 30_000 },
        );

        const ready = Date.now() - started;
        const clicked = Date.now();
        await run.click();
        const resultText = await page
          .waitForFunction(
            () => {
              const text = document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue() ?? '';
              return text.includes('"data"') || text.includes('"errors"') ? text : false;
            },
            null,
            { timeout: 60_000 },
          )
          .then((handle) => handle.jsonValue());
        const answered = Date.now() - clicked;
        const result = JSON.parse(resultText);
        assert.equal(result.errors, undefined, `no errors in the result pane: ${resultText}`);
        const value = bff.data(result.data);
        assert.ok(typeof value === 'string' && value.length > 0, `real data: ${resultText}`);
        // The result is rendered on screen, not only in the editor's model (CodeMirror renders
        // only the lines in view, so the check is on the top of the pane).
        const shown = await page.locator('.result-window .CodeMirror-code').innerText();
        assert.match(shown, /"data"/, 'the result pane shows the data');

        // The schema loaded by introspection: the docs explorer lists the root types.
        await page.locator('button[aria-label="Show Documentation Explorer"]').click();
        const docs = page.locator('.graphiql-doc-explorer');
        await docs.getByText('Root Types').waitFor({ timeout: 15_000 }).catch(() => {});
        const docsText = await docs.innerText();
        assert.match(
          docsText,
          /Root Types[\s\S]*query/,
          `GraphiQL loaded the schema (docs explorer shows: ${docsText.slice(0, 200)}; problems: ${problems.join(' | ')})`,
        );

        assert.ok(graphqlAuth.length > 0, 'GraphiQL called /graphql');
        assert.ok(graphqlAuth.every((h) => h.startsWith('Bearer ')), 'with the dev token');
        await page.screenshot({ path: new URL(`${bff.name}.png`, OUTPUT).pathname });
        t.diagnostic(
          `${bff.name}: GraphiQL ready ${ready} ms after navigation, Run answered in ${answered} ms, ` +
            `${requests} requests, all to ${HOST}; tabs: ${tabTitles.join(', ')}; data: ${value.slice(0, 40)}`,
        );
        assert.deepEqual(offHost, [], 'no request to another host was attempted');
        assert.deepEqual(problems, [], 'no console or page errors');
      } catch (error) {
        await page.screenshot({ path: new URL(`${bff.name}-failed.png`, OUTPUT).pathname }).catch(() => {});
        throw error;
      } finally {
        await context.close();
      }
    });
  }

  test('every asset is served by the BFF with long cache headers', async () => {
    const html = await (await fetch(`${BFFS[0].url}/graphiql`)).text();
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(urls.length >= 5, `assets referenced: ${urls.join(', ')}`);
    for (const path of urls) {
      assert.ok(path.startsWith('/graphiql/assets/'), `${path} is served by the BFF itself`);
      const response = await fetch(`${BFFS[0].url}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('cache-control') ?? '', /max-age=31536000/, path);
      await response.arrayBuffer();
    }
  });
});
