"""CIFAR-10 case study: data loading, two CNNs, training, and the published report.

Run it from the repository root with ``python -m examples.cifar10 --help``.
"""
