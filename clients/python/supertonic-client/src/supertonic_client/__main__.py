"""``python -m supertonic_client`` is ``supertonic-say``."""
import sys

from .cli import main

sys.exit(main())
