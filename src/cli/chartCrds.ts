// The chart's CRDs (MetalLB's resources), created as the chart installs them: the playground and the
// benches run metal on an embedded API server that has none.
import type { ApiextensionsV1Api, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const CHART_CRDS = fileURLToPath(new URL('../../charts/kube-lb-provisioner/crds/', import.meta.url));

export async function installChartCrds(api: ApiextensionsV1Api): Promise<void> {
  for (const file of (await readdir(CHART_CRDS)).filter((f) => f.endsWith('.yaml')).sort()) {
    await api.createCustomResourceDefinition({ body: parse(await readFile(join(CHART_CRDS, file), 'utf8')) as V1CustomResourceDefinition });
  }
}
