import sys

from kerashp.cli import main

sys.exit(main())
