"""`cluster`: weight clustering of a spiking model with TensorFlow Model Optimization."""

import keras
import numpy as np

from keras_snnkd.export.tfmot_bridge import (
    WEIGHTED, finetune_in_worker, history_result, weighted_layers)
from keras_snnkd.validation import check_choice, check_positive_int

INITS = ("kmeans++", "linear")
"""Centroid initializations: tfmot's ``KMEANS_PLUS_PLUS`` and ``LINEAR``."""


def cluster(model, x, y, clusters=16, epochs=2, init="kmeans++", teacher=None, batch_size=64,
            learning_rate=1e-3, verbose="auto"):
    """Clusters every Dense/Conv2D kernel of a spiking model to ``clusters`` shared values.

    The model is rebuilt as a tf_keras mirror in a TensorFlow-backend worker
    process (`keras_snnkd.export.tfmot_bridge`), as `prune` does. Each Dense
    and Conv2D kernel ``W`` is wrapped in tfmot's ``cluster_weights``: its
    ``k = clusters`` centroids ``c`` start from ``W`` itself (k-means++
    seeding, or ``init="linear"``: evenly spaced between ``min W`` and
    ``max W``) and the layer computes with ``W_ij = c[a_ij]``, where
    ``a_ij = argmin_k |w_ij - c_k|`` is re-assigned from the underlying
    float weights ``w`` at every training step. The mirror is fine-tuned
    for ``epochs`` on ``x, y`` (centroids, ``w``, biases and BatchNormalization
    trained), distilled from the teacher's logits ``t``::

        loss = (1 - w) * CE(y, s) + w * tau^2 * KL(softmax(t/tau) || softmax(s/tau))

    (``w = 0.5``, ``tau = 2``; `keras_snnkd.export.tf_keras_mirror.finetune`).
    Then ``strip_clustering`` and the weights are copied into a copy of
    ``model``. Every kernel holds at most ``clusters`` distinct values
    (checked); biases, neuron parameters and thresholds are not clustered;
    ``model`` itself is not modified. Works under every backend.

    Args:
        model: a built spiking `keras.Model` that `to_tflite` accepts.
        x: training inputs ``(N, *input_shape)``.
        y: integer labels ``(N,)``.
        clusters: distinct values per kernel, an int from 2 to the size of
            the smallest kernel.
        epochs: fine-tuning epochs.
        init: centroid initialization, ``"kmeans++"`` or ``"linear"``.
        teacher: None (distil from ``model``'s own outputs on ``x``, computed
            once), another `keras.Model`, or an array of logits ``(N, classes)``.
        batch_size, learning_rate: of the fine-tuning (Adam).
        verbose: passed to ``fit`` in the worker (its output is not shown).

    Returns:
        A new Keras 3 model of the same architecture with clustered kernels.

    Raises:
        ValueError: bad ``clusters`` (below 2 or above the size of the
            smallest kernel), data or layers the mirror cannot
            rebuild (all named); TypeError: ``clusters`` not an int;
            ImportError: the ``tfmot`` extra is missing.

    Example:
    >>> import numpy as np
    >>> from keras_snnkd.models import dense_snn
    >>> from keras_snnkd.export import cluster
    >>> model = dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.random((64, 8, 8, 1)).astype("float32"), rng.integers(0, 10, 64)
    >>> clustered = cluster(model, x, y, clusters=4, epochs=1, verbose=0)
    >>> [len(np.unique(w)) for w in clustered.get_weights() if w.ndim == 2]
    [4, 4]
    """
    owner = "cluster"
    check_positive_int(owner, "clusters", clusters)
    if clusters < 2:
        raise ValueError(f"{owner}: `clusters` must be >= 2 (distinct values per kernel), "
                         f"got {clusters}.")
    check_choice(owner, "init", init, INITS)
    options = {"clusters": clusters, "epochs": epochs, "init": init, "batch_size": batch_size,
               "learning_rate": learning_rate, "verbose": verbose}

    def check_kernels(x):  # after finetune_in_worker has checked that model is a built model
        sizes = {layer.name: int(np.prod(layer.kernel.shape))
                 for layer in weighted_layers(model)}
        smallest = min(sizes, key=sizes.get, default=None)
        if smallest is not None and clusters > sizes[smallest]:
            raise ValueError(f"{owner}: `clusters` must be <= {sizes[smallest]}, the size of "
                             f"the smallest kernel (layer {smallest!r}); got {clusters}.")

    return finetune_in_worker(owner, "cluster", model, x, y, teacher, options, check_kernels)


def tfmot_task(model, arrays, options, output):
    """Worker side (tf_keras process): clusters ``model`` and saves it to ``output``."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    from keras_snnkd.export.tf_keras_mirror import build_mirror, copy_back, finetune

    clustering = tfmot.clustering.keras
    init = {"kmeans++": clustering.CentroidInitialization.KMEANS_PLUS_PLUS,
            "linear": clustering.CentroidInitialization.LINEAR}[options["init"]]

    # tfmot seeds the centroids from the kernel when its wrapper builds, so wrap the
    # twins of the built mirror (which hold the model's weights) in a clone of it.
    mirror, pairs = build_mirror(model)
    kernels = {twin.name for original, twin in pairs if isinstance(original, WEIGHTED)}

    def wrap(layer):
        if layer.name not in kernels:
            return layer
        return clustering.cluster_weights(layer, number_of_clusters=options["clusters"],
                                          cluster_centroids_init=init)

    mirror = tf_keras.models.clone_model(mirror, clone_function=wrap)
    history = finetune(mirror, arrays["x"], arrays["y"], arrays["teacher"], options["epochs"],
                       options["batch_size"], options["learning_rate"], (),
                       options["verbose"])
    copy_back(pairs, clustering.strip_clustering(mirror))
    for layer in weighted_layers(model):
        distinct = np.unique(keras.ops.convert_to_numpy(layer.kernel)).size
        if distinct > options["clusters"]:
            raise RuntimeError(
                f"cluster: layer {layer.name!r} holds {distinct} distinct kernel values, "
                f"more than clusters={options['clusters']} (a tfmot clustering problem).")
    model.save(output)
    return history_result(history)
