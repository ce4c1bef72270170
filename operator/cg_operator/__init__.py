"""cg-operator: the App Store for Common Ground components, as a Kubernetes operator."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cg-operator")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
