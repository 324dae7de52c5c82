// A kubeconfig for this server: plain HTTP on loopback, the bearer token names the user.
// client-node refuses http:// servers unless insecure-skip-tls-verify is set; kubectl accepts it.
import { stringify } from 'yaml';

export function kubeconfigText(server: string, user = 'admin'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kube-lb-provisioner', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token: user } }],
    contexts: [{ name: 'kube-lb-provisioner', context: { cluster: 'kube-lb-provisioner', user, namespace: 'default' } }],
    'current-context': 'kube-lb-provisioner',
    preferences: {},
  });
}
