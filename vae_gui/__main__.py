"""`python -m vae_gui`: the same as the `vae-gui` command."""

import sys

from vae_gui.app import main

sys.exit(main())
