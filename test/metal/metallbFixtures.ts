// Builds the MetalLB configuration from a flat list of objects (as `kubectl get -o yaml` prints
// them), Secrets included, for the pure tests: { config, problems } as the speaker sees it.
import { buildMetallbConfiguration, type MetallbConfiguration } from '../../src/metallb/configuration.js';
import { groupByKind, type ObjectProblem } from '../../src/metallb/objects.js';

export function buildFromList(list: readonly unknown[], namespace = 'metallb-system'): { config: MetallbConfiguration; problems: ObjectProblem[] } {
  const { objects, secrets } = groupByKind(list);
  const config = buildMetallbConfiguration(namespace, objects, { secrets });
  return { config, problems: config.problems };
}
