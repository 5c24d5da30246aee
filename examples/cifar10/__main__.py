import gc
import sys

from examples.cifar10.cli import main

status = main()
# A training leaves millions of Python objects (TensorFlow's and Keras' modules, graphs).
# At exit the interpreter would walk them all in a last garbage collection, over a second
# of CPU, to free memory that the operating system takes back anyway. Everything is
# written and closed by now: freezing the objects skips that walk.
gc.freeze()
sys.exit(status)
