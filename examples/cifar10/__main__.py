import sys

from examples.cifar10.cli import main

sys.exit(main())
