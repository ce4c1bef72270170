"""Names shared by every layer: the API group, label and annotation keys, the field manager."""

from typing import Final

GROUP: Final = "appstore.commonground.nl"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

# The operator's own finalizer, added and removed by its reconcilers (never by kopf).
FINALIZER: Final = f"{GROUP}/finalizer"
# kopf's finalizer, under our prefix. It must differ from ours: kopf removes its finalizer from
# objects it has no deletion handlers for, and would strip ours on every event.
KOPF_FINALIZER: Final = f"{GROUP}/kopf"
ANNOTATION_PREFIX: Final = GROUP
FIELD_MANAGER: Final = "cg-operator"

# Labels on everything the operator creates. The managed-by label is also the server-side
# watch filter, so the operator never lists objects it does not own.
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "cg-operator"
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT_ROLE: Final = "app.kubernetes.io/component"
LABEL_VERSION: Final = "app.kubernetes.io/version"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_TENANT: Final = f"{GROUP}/tenant"
LABEL_RING: Final = f"{GROUP}/ring"
LABEL_MUNICIPALITY: Final = f"{GROUP}/municipality-code"
LABEL_INSTALLATION: Final = f"{GROUP}/installation"
# Set on data (PVCs, database Secrets) left behind on purpose by deletionPolicy Retain.
LABEL_RETAINED: Final = f"{GROUP}/retained"
# On a tenant: the operator shard that reconciles it (reconcile/shards.py); on every object a
# sharded operator writes: the shard that wrote it (its watches select on it).
LABEL_SHARD: Final = f"{GROUP}/shard"
ANNOTATION_CONFIG_HASH: Final = f"{GROUP}/config-hash"
# On every child: a hash of what the operator last applied, so that a field it stopped setting
# is noticed (a subset comparison cannot see a removal) and removed by the next apply.
ANNOTATION_APPLIED: Final = f"{GROUP}/applied"
ANNOTATION_EXPIRES: Final = f"{GROUP}/expires"
"""On a SaaS credentials Secret: when the credentials expire (RFC 3339), for the expiry alert."""
ANNOTATION_ROTATE_SECRETS: Final = f"{GROUP}/rotate-secrets"
"""On a ComponentInstallation: a new value (any, e.g. a date) replaces its generated settings."""
ANNOTATION_ROTATED_FOR: Final = f"{GROUP}/rotated-for"
"""On the generated-settings Secret: the rotate-secrets value it was last generated for."""

# Cloud instance metadata and platform endpoints: AWS/GCP/OpenStack (169.254.169.254, IPv6
# fd00:ec2::254), AWS ECS task credentials (169.254.170.2), EKS Pod Identity (169.254.170.23,
# fd00:ec2::23), Alibaba Cloud (100.100.100.200) and the Azure wire server (168.63.129.16).
# Never probed, and cut out of every egress CIDR a tenant opens.
METADATA_ADDRESSES: Final = (
    "169.254.169.254",
    "169.254.170.2",
    "169.254.170.23",
    "100.100.100.200",
    "168.63.129.16",
    "fd00:ec2::254",
    "fd00:ec2::23",
)
