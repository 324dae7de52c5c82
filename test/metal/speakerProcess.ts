// The speaker CLI as the labs run it: one node process with tsx as a loader (not tsx's CLI, so a
// signal reaches the speaker itself), acting for one lab node, its Lease in kube-system.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface SpeakerProcessOptions {
  nodeName: string;
  kubeconfigPath: string;
  /** `--metrics-address`: several speakers sharing one network namespace each take a free port. */
  metricsAddress: string;
  /** Run inside this network namespace (`ip netns exec`), as a hostNetwork DaemonSet pod does. */
  insideNetns?: string;
  args: string[];
}

export function spawnSpeaker(o: SpeakerProcessOptions): ChildProcess {
  const argv = [
    process.execPath,
    '--import',
    'tsx',
    join(repoRoot, 'src', 'cli', 'main.ts'),
    'speaker',
    '--node-name',
    o.nodeName,
    '--kubeconfig',
    o.kubeconfigPath,
    '--namespace',
    'kube-system',
    '--log-level',
    process.env.SPEAKER_LOG_LEVEL ?? 'warn',
    '--metrics-address',
    o.metricsAddress,
    ...o.args,
  ];
  const [command, ...rest] = o.insideNetns ? ['ip', 'netns', 'exec', o.insideNetns, ...argv] : argv;
  return spawn(command!, rest, { stdio: ['ignore', 'ignore', 'inherit'], cwd: repoRoot });
}
