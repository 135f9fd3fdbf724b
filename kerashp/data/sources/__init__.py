"""Where images come from: `tfds` (tensorflow-datasets, prepared once, read without TensorFlow) and
`folder` (an ImageFolder tree). Each returns a `kerashp.data.dataset.Dataset`."""
