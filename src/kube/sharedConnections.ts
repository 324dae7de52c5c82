// client-node 2.0 builds a new undici Agent for every request when the cluster has TLS options
// (including skipTLSVerify), so each request opens its own keep-alive connection that lingers until
// the server times it out. Under load (a create storm, a big initial list) that runs the process out
// of file descriptors. This wraps a KubeConfig so every request and watch shares the first Agent.
import type { KubeConfig } from '@kubernetes/client-node';

type AuthContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];
type Dispatcher = NonNullable<ReturnType<AuthContext['getDispatcher']>>;

export function withSharedConnections(kubeConfig: KubeConfig): KubeConfig {
  let shared: Dispatcher | undefined;
  // A prototype-linked view: everything else (contexts, users, makeApiClient) is the original's.
  const wrapped = Object.create(kubeConfig) as KubeConfig;
  wrapped.applySecurityAuthentication = async (context: AuthContext) => {
    await kubeConfig.applySecurityAuthentication(context);
    const created = context.getDispatcher();
    if (created === undefined) return;
    if (shared === undefined) shared = created;
    else if (created !== shared) {
      context.setDispatcher(shared);
      void (created as { close?: () => Promise<void> }).close?.().catch(() => undefined);
    }
  };
  return wrapped;
}
