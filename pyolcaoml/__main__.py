import sys

from pyolcaoml.cli import main

sys.exit(main())
