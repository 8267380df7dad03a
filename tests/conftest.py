"""Suite-wide settings.

Hypothesis deadlines are off: CI shares a small machine, and a property that is correct but
met a slow moment must not fail. Speed is measured in ``bench/``, never in a test.
"""

from hypothesis import settings

settings.register_profile("pairup", deadline=None, print_blob=True)
settings.load_profile("pairup")
