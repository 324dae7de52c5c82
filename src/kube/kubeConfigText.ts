// A client-node KubeConfig from kubeconfig YAML text (the embedded API server hands one out).
import { KubeConfig } from '@kubernetes/client-node';

export function kubeConfigFromText(text: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}
