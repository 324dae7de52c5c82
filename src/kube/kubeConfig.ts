// Where the controller finds the cluster: an explicit kubeconfig, else KUBECONFIG / ~/.kube/config,
// else the in-cluster service account (client-node's loadFromDefault order).
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster found: pass --kubeconfig, set KUBECONFIG, or run in a cluster');
  return kc;
}
