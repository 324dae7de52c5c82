// The install commands users copy: every `helm install` in README.md, the chart's README and the
// example values files' comments renders as printed (run as `helm template` with the same arguments:
// the same schema checks and templates, without a cluster), and none of them relies on a value the
// chart would refuse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartDir, cloudValuesFiles, helm, repoRoot } from './helmChart.js';

/** Splits a shell command line into words: single and double quotes, no expansions. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: string | undefined;
  let started = false;
  for (const ch of line.trim()) {
    if (quote) {
      if (ch === quote) quote = undefined;
      else current += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else {
      if ('$<>|;&`'.includes(ch)) throw new Error(`not a plain command, it needs a shell (${ch}): ${line}`);
      current += ch;
      started = true;
    }
  }
  if (quote) throw new Error(`unclosed quote: ${line}`);
  if (started) words.push(current);
  return words;
}

/** The `helm install` commands of a text; `prefix` is what starts each line (e.g. "#" in YAML comments). */
export function helmInstallCommands(text: string, prefix = ''): string[] {
  const lines = text.split('\n').map((l) => (prefix && l.trimStart().startsWith(prefix) ? l.trimStart().slice(prefix.length) : l).trim());
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]?.startsWith('helm install ')) continue;
    let command = lines[i] ?? '';
    while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1).trimEnd()} ${lines[++i] ?? ''}`;
    commands.push(command);
  }
  return commands;
}

const sources: [label: string, path: string, prefix: string][] = [
  ['README.md', join(repoRoot, 'README.md'), ''],
  ['charts/kube-lb-provisioner/README.md', join(chartDir, 'README.md'), ''],
  ...cloudValuesFiles.map((f): [string, string, string] => [f, join(chartDir, f), '#']),
];
const commands = sources.flatMap(([label, path, prefix]) => helmInstallCommands(readFileSync(path, 'utf8'), prefix).map((c): [string, string] => [label, c]));

describe('install commands as printed', () => {
  it('the top-level README prints the AWS install with its own cluster name and region', () => {
    expect(commands.filter(([label]) => label === 'README.md').map(([, c]) => c)).toContain(
      'helm install kube-lb-provisioner charts/kube-lb-provisioner -n kube-lb-system --create-namespace -f charts/kube-lb-provisioner/values-aws.yaml --set clusterName=prod-eu1 --set providers.aws.region=eu-west-1',
    );
  });

  it('every example values file prints an install command', () => {
    for (const file of cloudValuesFiles) expect(commands.some(([label]) => label === file), file).toBe(true);
  });

  it.each(commands)('%s: %s', async (_label, command) => {
    const words = shellWords(command);
    expect(words.slice(0, 2)).toEqual(['helm', 'install']);
    // From the repository root, where the README's relative paths point.
    const result = await helm(['template', ...words.slice(2)]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('kind: Deployment');
  });
});

describe('the command parsing above', () => {
  it('joins continuation lines, strips comment markers, keeps quoted words whole', () => {
    const text = "x\n#   helm install a b \\\n#     --set 'p[0].addresses={1.2.3.4/32,5.6.7.8/32}' \\\n#     -f \"v.yaml\"\n# not this\n";
    const found = helmInstallCommands(text, '#');
    expect(found).toEqual(["helm install a b --set 'p[0].addresses={1.2.3.4/32,5.6.7.8/32}' -f \"v.yaml\""]);
    expect(shellWords(found[0] ?? '')).toEqual(['helm', 'install', 'a', 'b', '--set', 'p[0].addresses={1.2.3.4/32,5.6.7.8/32}', '-f', 'v.yaml']);
  });

  it('refuses a line that needs a shell (a placeholder like <project>)', () => {
    expect(() => shellWords('helm install x --set p=<project id>')).toThrow(/needs a shell/);
  });

  it('a printed command that the chart refuses fails here', async () => {
    const result = await helm(['template', ...shellWords('kube-lb-provisioner charts/kube-lb-provisioner -f charts/kube-lb-provisioner/values-aws.yaml --set clusterName=prod-eu1')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('providers.aws: region is required');
  });
});
