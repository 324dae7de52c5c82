// Start-up failures as one line naming the setting to fix, then a non-zero exit: a taken port, an
// unreadable kubeconfig, an API server that cannot be reached or refuses our credentials. A Pod in
// CrashLoopBackOff shows its last line in `kubectl logs`; a stack trace there helps nobody.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { statusOf } from '../kube/apiErrors.js';

/** A start-up failure whose message already says which setting to change. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const KUBECONFIG_SETTING = 'pass --kubeconfig, set KUBECONFIG, or run in a cluster';

/** Loads the kubeconfig named by `path`, else KUBECONFIG / ~/.kube/config / in-cluster. */
export function loadKubeConfigOrFail(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  const source = path ? `--kubeconfig ${path}` : process.env.KUBECONFIG ? `KUBECONFIG=${process.env.KUBECONFIG}` : 'the default kubeconfig';
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (error) {
    throw new StartupError(`${source}: cannot be read (${oneLine(error)}); ${KUBECONFIG_SETTING}`);
  }
  if (!kc.getCurrentCluster()) throw new StartupError(`${source}: no cluster in the current context; ${KUBECONFIG_SETTING}`);
  return kc;
}

/** A failed listen() (EADDRINUSE and the like) becomes a message naming the setting; others pass. */
export function explainListenFailure(setting: string, address: string): (error: unknown) => never {
  return (error) => {
    throw (error as { syscall?: string }).syscall === 'listen' ? listenFailure(setting, address, error) : error;
  };
}

/** Where a listen failed, as a message naming the setting that chose the address. */
export function listenFailure(setting: string, address: string, error: unknown): StartupError {
  const code = (error as { code?: string }).code;
  const why =
    code === 'EADDRINUSE' ? 'is already in use by another process' : code === 'EACCES' ? 'needs privileges this process lacks' : code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : `cannot be listened on (${oneLine(error)})`;
  return new StartupError(`${setting}: ${address} ${why}; choose another address or port`);
}

/**
 * One cheap read the controller needs anyway (list Services, limit 1): proves the API server is
 * reachable, takes our credentials and lets us read Services. A few tries, so a control plane
 * that is restarting does not fail a rollout.
 */
export async function checkApiServer(kc: KubeConfig, options: { attempts?: number; timeoutMs?: number; delayMs?: number } = {}): Promise<void> {
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const user = kc.getCurrentUser()?.name ?? '(no user)';
  const core = kc.makeApiClient(CoreV1Api);
  const attempts = options.attempts ?? 3;
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await withTimeout(core.listServiceForAllNamespaces({ limit: 1 }), options.timeoutMs ?? 5000);
      return;
    } catch (error) {
      const status = statusOf(error);
      if (status === 401) throw new StartupError(`the API server at ${server} refused the credentials of kubeconfig user "${user}" (401 Unauthorized); fix the kubeconfig (--kubeconfig / KUBECONFIG) or the ServiceAccount token`);
      if (status === 403) throw new StartupError(`the API server at ${server} does not let kubeconfig user "${user}" list Services (403 Forbidden); bind the chart's ClusterRole to it`);
      if (status !== undefined && status < 500) throw new StartupError(`the API server at ${server} answered ${status} to a list of Services (${oneLine(error)})`);
      last = error;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, options.delayMs ?? 1000));
    }
  }
  throw new StartupError(`cannot reach the API server at ${server} (${oneLine(last)}); check the server in the kubeconfig (--kubeconfig / KUBECONFIG) and that it is up`);
}

/** The kubeconfig, checked against its API server; exits with one line when either fails. */
export function connectOrExit(path: string | undefined): Promise<KubeConfig> {
  return failFast(async () => {
    const kc = loadKubeConfigOrFail(path);
    await checkApiServer(kc);
    return kc;
  });
}

/** Runs a command's start-up; a failure prints one line and exits 1. */
export async function failFast<T>(start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    process.stderr.write(`kube-lb-provisioner: ${error instanceof StartupError ? error.message : `start-up failed: ${oneLine(error)}`}\n`);
    process.exit(1);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  const first = text.split('\n')[0] ?? text;
  return cause && !first.includes(cause) ? `${first}: ${cause}` : first;
}
