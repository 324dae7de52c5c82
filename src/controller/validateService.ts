// Controller-level checks of a DesiredLoadBalancer against what the provider can do, so every
// provider gets the same clear answer for the same mistake. Pure; throws ServiceConfigError.
import { ServiceConfigError, type Capabilities, type DesiredLoadBalancer } from '../../providers/provider.js';

export function validateAgainstCapabilities(desired: DesiredLoadBalancer, caps: Capabilities, providerName: string): void {
  desired.ports.forEach((port, i) => {
    if (!caps.protocols.includes(port.protocol)) {
      throw new ServiceConfigError(
        `spec.ports[${i}].protocol`,
        `${port.protocol} is not supported by the ${providerName} provider (supported: ${caps.protocols.join(', ')})`,
      );
    }
  });
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
}
