"""``python -m resnet_explorer`` is the same as the ``resnet-explorer`` command."""

import sys

from resnet_explorer.cli import main

sys.exit(main())
