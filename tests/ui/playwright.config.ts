/**
 * Browser tests of the AutoCoder panel: galata/Playwright in Debian's Chromium against
 * two real JupyterLab servers with the extension, one with the real small model
 * (project "real-model") and one with the scripted model double ("scripted").
 * Run them with ./run.sh.
 */
import type { PlaywrightTestConfig } from '@playwright/test';
import * as os from 'os';
import * as path from 'path';

const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const REAL_PORT = Number(process.env.AUTOCODER_UI_REAL_PORT ?? 18931);
const SCRIPTED_PORT = Number(process.env.AUTOCODER_UI_SCRIPTED_PORT ?? 18932);
const CHROMIUM = process.env.AUTOCODER_UI_CHROMIUM ?? '/usr/bin/chromium';

const LOGS = process.env.AUTOCODER_UI_LOGS ?? os.tmpdir();

function server(config: string, port: number) {
  const log = path.join(LOGS, `${path.basename(config, '.py')}.log`);
  return {
    // The server's own log goes to a file: on failure it says what the server saw.
    command: `jupyter lab --config ${config} --allow-root > "${log}" 2>&1`,
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120_000,
    // For development: keep servers running between runs (AUTOCODER_UI_REUSE_SERVERS=1).
    reuseExistingServer: process.env.AUTOCODER_UI_REUSE_SERVERS === '1',
    stdout: 'ignore' as const,
    stderr: 'ignore' as const
  };
}

const config: PlaywrightTestConfig = {
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results',
  reporter: [
    ['list'],
    ['html', { open: 'never', outputFolder: 'playwright-report' }]
  ],
  timeout: 120_000,
  expect: { timeout: 20_000 },
  retries: 0,
  workers: 1,
  use: {
    ...baseConfig.use,
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  projects: [
    {
      name: 'real-model',
      testMatch: /real-model\.spec\.ts/,
      use: { baseURL: `http://127.0.0.1:${REAL_PORT}` }
    },
    {
      name: 'scripted',
      testMatch: /scripted\/.*\.spec\.ts/,
      use: { baseURL: `http://127.0.0.1:${SCRIPTED_PORT}` }
    }
  ],
  webServer: [
    server('jupyter_server_real.py', REAL_PORT),
    server('jupyter_server_scripted.py', SCRIPTED_PORT)
  ]
};

export default config;
