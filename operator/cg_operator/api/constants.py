"""Names shared by every layer: the API group, label and annotation keys, the field manager."""

from typing import Final

GROUP: Final = "appstore.commonground.nl"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

# kopf keeps its bookkeeping under our prefix, not kopf.zalando.org.
FINALIZER: Final = f"{GROUP}/finalizer"
ANNOTATION_PREFIX: Final = GROUP
FIELD_MANAGER: Final = "cg-operator"
