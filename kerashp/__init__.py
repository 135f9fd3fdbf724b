"""kerashp: a hyperparameter lab for image classifiers (Keras 3 on PyTorch).

Importing this package is cheap on purpose: torch, keras and tensorflow are imported only by the
modules that train, so `kerashp --help` and preset validation start instantly.
"""

__version__ = "0.1.0"
