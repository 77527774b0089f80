"""cloudmc_frames: the CloudMC cloud-management API as typed pandas DataFrames."""

from ._version import __version__
from .client import Client, connect
from .errors import *  # noqa: F403

__all__ = ["Client", "__version__", "connect"]
