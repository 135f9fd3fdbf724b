"""Training: a preset becomes a run. `run` trains and resumes through Keras `fit`; `feeds` builds the
batches; `recorder` writes each epoch into the run folder; `checkpoints` saves and safely loads
checkpoints and finds the committed epoch a run resumes from; `optim` builds optimizers and
schedules; `fast/` makes the torch-backend step cheaper without changing its results.

Every module here imports keras, and keras reads KERAS_BACKEND once, at its first import: so the
package selects the torch backend before any of its modules loads (setting two environment
variables; nothing heavy is imported here).
"""

from kerashp.backend import use_torch_backend

use_torch_backend()
