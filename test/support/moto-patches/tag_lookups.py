# Imported by sitecustomize.py at moto_server start-up.
# moto's EC2 resources find their own tags by scanning every tag in the Region
# (describe_tags with a resource-id filter, one regular expression per tag), so a page of 1,000
# security groups scans all tags 1,000 times, and a run slows down as it creates resources
# (2,000 Services in the AWS bench: over half of moto's time went there). Same answer, looked up by
# the resource's ID. Anything unexpected (another moto version) leaves moto as it is.
import sys

try:
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    def get_tags(self):
        resource_id = getattr(self, "id", None)
        if not resource_id:
            return []
        tags = self.ec2_backend.tags.get(resource_id, {})
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [{"resource_id": resource_id, "key": k, "value": v, "resource_type": resource_type} for k, v in tags.items()]

    TaggedEC2Resource.get_tags = get_tags
except Exception as error:  # noqa: BLE001 - a speed-up only; never stop moto
    print(f"moto-patches: tag lookups not applied ({error!r})", file=sys.stderr)
