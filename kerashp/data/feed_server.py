"""What the fork server of the feed's workers imports once, so every worker forks ready to work.

That is `workers` (numpy, OpenCV, Albumentations) without Albumentations' optional torch helpers:
torch takes seconds to import and no worker uses it. Albumentations skips those helpers when
torch cannot be imported, so torch is made unimportable for just that import.
"""

import sys

_blocked = "torch" not in sys.modules
if _blocked:
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` now raises ImportError
try:
    import kerashp.data.workers  # noqa: F401
finally:
    if _blocked:
        del sys.modules["torch"]
