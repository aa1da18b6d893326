from __future__ import annotations

import sys

from retrain.cli.main import main

sys.exit(main())
