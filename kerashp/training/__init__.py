"""Training: a preset becomes a run. `run` trains and resumes through Keras `fit`; `feeds` builds the
batches; `recorder` writes each epoch into the run folder; `checkpoints` saves and safely loads
checkpoints and finds the committed epoch a run resumes from; `optim` builds optimizers and
schedules; `fast/` makes the torch-backend step cheaper without changing its results.

Nothing is imported here: the modules import torch and keras, and `import kerashp.training` stays free.
"""
