# Imported by sitecustomize.py at moto_server start-up. moto 5.2 ignores EnablePrefixForIpv6SourceNat
# on CreateLoadBalancer and SetSubnets and never reports it (ELB API reference, LoadBalancer:
# "[Network Load Balancers with UDP listeners] Indicates whether to use an IPv6 prefix from each
# subnet for source NAT ... The default value is off"). This keeps the value asked for and reports
# it, as AWS does, so that a provider's setting, and drift in it, can be seen. Which values are
# allowed is the validating proxy's business (test/aws/support/awsRules.ts).
import sys

try:
    from moto.elbv2.models import FakeLoadBalancer
    from moto.elbv2.responses import ELBV2Response

    # moto's serializer reads a LoadBalancer member from the snake_case attribute of that name.
    FakeLoadBalancer.enable_prefix_for_ipv6_source_nat = "off"

    create_load_balancer = ELBV2Response.create_load_balancer
    set_subnets = ELBV2Response.set_subnets

    def _remember(self, load_balancer):
        value = self._get_param("EnablePrefixForIpv6SourceNat")
        if value and load_balancer is not None:
            load_balancer.enable_prefix_for_ipv6_source_nat = value

    def create_with_source_nat(self):
        result = create_load_balancer(self)
        name = self._get_param("Name")
        _remember(self, next((lb for lb in self.elbv2_backend.load_balancers.values() if lb.name == name), None))
        return result

    def set_subnets_with_source_nat(self):
        result = set_subnets(self)
        _remember(self, self.elbv2_backend.load_balancers.get(self._get_param("LoadBalancerArn")))
        return result

    ELBV2Response.create_load_balancer = create_with_source_nat
    ELBV2Response.set_subnets = set_subnets_with_source_nat
except Exception as error:  # noqa: BLE001 - never stop moto
    print(f"moto-patches: EnablePrefixForIpv6SourceNat not kept ({error!r})", file=sys.stderr)
