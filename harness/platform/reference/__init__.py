"""The reference platform engine: the default system under test."""

from harness.platform.reference.engine import ReferenceEngine
from harness.platform.reference.state import PlatformState

__all__ = ["PlatformState", "ReferenceEngine"]
