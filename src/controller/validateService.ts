// Controller-level checks of a DesiredLoadBalancer against what the provider can do, so every
// provider gets the same clear answer for the same mistake. Pure; throws ServiceConfigError.
import { ServiceConfigError, type Capabilities, type DesiredLoadBalancer } from '../../providers/provider.js';
import { WRITTEN_BY_US } from './ourAnnotations.js';

const OUR_ANNOTATION_PREFIX = 'kube-lb-provisioner.io/';

export function validateAgainstCapabilities(desired: DesiredLoadBalancer, caps: Capabilities, providerName: string): void {
  desired.ports.forEach((port, i) => {
    if (!caps.protocols.includes(port.protocol)) {
      throw new ServiceConfigError(
        `spec.ports[${i}].protocol`,
        `${port.protocol} is not supported by the ${providerName} provider (supported: ${caps.protocols.join(', ')})`,
      );
    }
  });
  if (caps.usesNodePorts) {
    const i = desired.ports.findIndex((p) => p.nodePort === 0);
    if (i >= 0) {
      throw new ServiceConfigError(
        `spec.ports[${i}].nodePort`,
        `no NodePort allocated (spec.allocateLoadBalancerNodePorts: false), and the ${providerName} provider forwards to NodePorts; remove allocateLoadBalancerNodePorts: false or set the nodePort`,
      );
    }
  }
  const protocols = new Set(desired.ports.map((p) => p.protocol));
  if (protocols.size > 1 && !caps.mixedProtocol) {
    throw new ServiceConfigError('spec.ports', `the ${providerName} provider cannot mix protocols (${[...protocols].join(', ')}) in one Service`);
  }
  if (desired.loadBalancerIP !== undefined && !caps.loadBalancerIP) {
    throw new ServiceConfigError('spec.loadBalancerIP', `the ${providerName} provider cannot honour a requested address; remove the field`);
  }
  if (desired.sourceRanges.length > 0 && !caps.sourceRanges) {
    throw new ServiceConfigError('spec.loadBalancerSourceRanges', `the ${providerName} provider cannot restrict source ranges`);
  }
  if (desired.ipFamilyPolicy === 'RequireDualStack' && !caps.dualStack) {
    throw new ServiceConfigError('spec.ipFamilyPolicy', `the ${providerName} provider cannot serve RequireDualStack`);
  }
  // SingleStack wants its one family; PreferDualStack is served by any family it lists.
  const wanted = desired.ipFamilyPolicy === 'SingleStack' ? desired.ipFamilies.slice(0, 1) : desired.ipFamilies;
  if (!wanted.some((f) => caps.ipFamilies.includes(f))) {
    throw new ServiceConfigError(
      'spec.ipFamilies',
      `the ${providerName} provider gives only ${caps.ipFamilies.join(' and ')} addresses, and this Service asks for ${wanted.join(', ')}; set spec.ipFamilies to [${caps.ipFamilies.join(', ')}] or use another loadBalancerClass`,
    );
  }
  for (const name of Object.keys(desired.annotations).sort()) {
    if (!name.startsWith(OUR_ANNOTATION_PREFIX) || WRITTEN_BY_US.has(name) || caps.annotations.includes(name)) continue;
    const supported = caps.annotations.length > 0 ? `it reads ${caps.annotations.join(', ')}` : 'it reads none of ours';
    throw new ServiceConfigError(`metadata.annotations[${name}]`, `not supported by the ${providerName} provider (${supported}); remove it or use a loadBalancerClass whose provider supports it`);
  }
}
