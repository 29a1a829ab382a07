"""`Distiller`: trains a student from a frozen teacher with plain ``fit``."""

import inspect
import re

import keras
from keras import ops

from keras_snnkd.backend import _impl as _backend
from keras_snnkd.backend.torch_compile import skip_own_frame
from keras_snnkd.distill.kd_loss import KDLoss
from keras_snnkd.distill.model_outputs import FINAL, check_model, feature_extractor, time_mean
from keras_snnkd.distill.terminate_on_nan_term import TerminateOnNaNTerm
from keras_snnkd.validation import check_number

STUDENT_LOSS = "student_loss"
NONFINITE_INPUTS = "nonfinite_inputs"


def _term_name(loss, taken):
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(loss).__name__).lower()
    unique, index = name, 2
    while unique in taken:
        unique, index = f"{name}_{index}", index + 1
    return unique


def _checked_weights(owner, loss_weights, count):
    """``loss_weights`` (default 1 each) after checking: one finite weight >= 0 per
    loss, and not all of them 0."""
    weights = [1.0] * count if loss_weights is None else list(loss_weights)
    if len(weights) != count:
        raise ValueError(
            f"{owner}: `loss_weights` needs one weight per loss ({count}); got "
            f"{len(weights)}: {weights}."
        )
    weights = [check_number(owner, f"loss_weights[{i}]", w, low=0.0, low_inclusive=True)
               for i, w in enumerate(weights)]
    if not any(weights):
        raise ValueError(
            f"{owner}: `loss_weights` are all 0, so nothing would be distilled; got "
            f"{weights}. Give at least one distillation loss a positive weight."
        )
    return weights


def _layer_names(losses, side):
    """The distinct layer names the losses read on one side (teacher/student)."""
    names = (getattr(loss, f"{side}_layer_name", None) for loss in losses)
    return [name for name in dict.fromkeys(names) if name is not None]


def _read_out_time(teacher, student):
    """A student tensor with one axis more than the teacher's, averaged over time
    (what a ``keras.distillation`` loss, which knows no time axis, should see)."""
    tensors = not isinstance(teacher, (tuple, list)) and not isinstance(student, (tuple, list))
    if tensors and len(student.shape) == len(teacher.shape) + 1:
        return time_mean(student)
    return student


class _StopOnNonFiniteInputs(keras.callbacks.Callback):
    """Raises on the first batch whose inputs held NaN or Inf (``check_finite``)."""

    def _check(self, batch, logs, stage):
        if logs and float(ops.convert_to_numpy(logs.get(NONFINITE_INPUTS, 0))) > 0:
            raise ValueError(
                f"Distiller(check_finite=True): the inputs `x` of {stage} batch {batch} hold "
                "NaN or Inf; stopped. Clean or drop those samples (the step that saw "
                "them was applied: restore the weights from before it)."
            )

    def on_train_batch_end(self, batch, logs=None):
        self._check(batch, logs, "training")

    def on_test_batch_end(self, batch, logs=None):
        self._check(batch, logs, "evaluation")


def _output_shapes_match(teacher, student):
    teacher, student = tuple(teacher.shape[1:]), tuple(student.shape[1:])
    if len(student) == len(teacher) + 1:  # per-step student logits: read out over time
        student = student[1:]
    return teacher == student


@keras.saving.register_keras_serializable(package="keras_snnkd")
class Distiller(keras.Model):
    """A frozen teacher and a trainable student, trained with `fit`.

    The training loss is

    ``L = w_0 * L_student(y, student(x)) + sum_i w_i * L_i(teacher, student)``

    where ``L_student`` is the ``loss`` given to `compile` (optional: without it
    training is label-free) plus the student's regularization losses, and
    ``L_i`` are the distillation terms (`ResponseKD`, `SpikeCountKD`, `RateKD`,
    `FeatureKD`, `AttentionTransfer` or any
    ``keras.distillation.DistillationLoss``). Each term reads the output of one
    teacher layer and one student layer; all of them are fetched in a single
    forward pass of each model. A Keras loss, which knows no time axis, sees a
    student tensor that has one axis more than the teacher's averaged over
    time (axis 1). The teacher runs with ``training=False``
    outside the gradient computation: it never receives gradients and its
    BatchNorm statistics never change. Its ``trainable`` flag is set to False.

    ``train_step``/``test_step`` have one implementation per backend
    (TensorFlow ``GradientTape``, stateless jit-able JAX, PyTorch autograd) in
    ``keras_snnkd.backend``; the loss itself is written once, in ``keras.ops``.
    So ``compile``, ``fit``, ``evaluate``, callbacks, ``ModelCheckpoint`` and
    ``BackupAndRestore`` work as for any model. ``predict`` and ``__call__``
    return the student's output; ``distiller.student`` is a plain Keras model
    to save or export. Logs hold ``loss`` (the weighted total),
    ``student_loss`` (when `compile` got a loss), each distillation term under
    its class name in snake case (unweighted; ``feature_kd_2`` for a second
    `FeatureKD`), and the compiled metrics of the student. `fit` adds a
    `TerminateOnNaNTerm` callback, which stops training when a term becomes
    NaN and names it.

    Inputs may be the usual arrays, or the dict returned by
    `keras_snnkd.distill.cache_teacher`, which holds the teacher's outputs
    precomputed: then no teacher forward pass runs during training.

    Args:
        teacher: a trained, built Functional or Sequential model with one
            output (logits), ANN or SNN.
        student: a built Functional or Sequential model taking the same
            inputs; its output (the readout over time) must have the teacher's
            shape.
        losses: a distillation loss or a list of them.
        loss_weights: one weight ``w_i >= 0`` per loss (default 1 each); at
            least one must be positive.
        student_loss_weight: ``w_0 >= 0``, the weight of the compiled loss.
        check_finite: stop with an error naming the batch index when a batch's
            inputs hold NaN or Inf (``ValueError``) or a loss term is not
            finite (``RuntimeError``, from `TerminateOnNaNTerm`). The logs then
            hold ``nonfinite_inputs``, the count of such batches (0).
        name: model name.

    Example:
    >>> import keras, numpy as np
    >>> from keras_snnkd import models
    >>> from keras_snnkd.distill import Distiller, ResponseKD
    >>> teacher = models.reference_ann(input_shape=(8, 8, 1))
    >>> student = models.dense_snn(timesteps=2, input_shape=(8, 8, 1), hidden=(16,))
    >>> distiller = Distiller(teacher, student, [ResponseKD(temperature=4.0)],
    ...                       student_loss_weight=0.5)
    >>> distiller.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...                   metrics=["accuracy"])
    >>> x, y = np.random.rand(32, 8, 8, 1).astype("float32"), np.arange(32) % 10
    >>> history = distiller.fit(x, y, batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss', 'response_kd', 'student_loss']
    >>> distiller.predict(x, verbose=0).shape == student.predict(x, verbose=0).shape
    True
    """

    def __init__(self, teacher, student, losses, loss_weights=None, student_loss_weight=1.0,
                 check_finite=False, name="distiller", **kwargs):
        super().__init__(name=name, **kwargs)
        owner = type(self).__name__
        check_model(owner, "teacher", teacher)
        check_model(owner, "student", student)
        teacher_inputs = [tuple(t.shape[1:]) for t in teacher.inputs]
        student_inputs = [tuple(t.shape[1:]) for t in student.inputs]
        if teacher_inputs != student_inputs:
            raise ValueError(
                f"{owner}: `teacher` and `student` must take the same inputs; got input "
                f"shapes {teacher_inputs} (teacher) and {student_inputs} (student), "
                "batch axis left out."
            )
        if not _output_shapes_match(teacher.outputs[0], student.outputs[0]):
            raise ValueError(
                f"{owner}: `teacher` and `student` outputs must have the same shape (the "
                f"same classes); got {tuple(teacher.outputs[0].shape)} (teacher) and "
                f"{tuple(student.outputs[0].shape)} (student)."
            )
        losses = list(losses) if isinstance(losses, (list, tuple)) else [losses]
        if not losses:
            raise ValueError(f"{owner}: `losses` needs at least one distillation loss, got [].")
        for loss in losses:
            if not isinstance(loss, keras.distillation.DistillationLoss):
                raise TypeError(
                    f"{owner}: every item of `losses` must be a distillation loss "
                    "(keras_snnkd.distill.ResponseKD, FeatureKD, ... or a "
                    f"keras.distillation.DistillationLoss); got {loss!r} of type "
                    f"{type(loss).__name__}."
                )
        weights = _checked_weights(owner, loss_weights, len(losses))
        student_loss_weight = check_number(owner, "student_loss_weight", student_loss_weight,
                                           low=0.0, low_inclusive=True)
        if not isinstance(check_finite, bool):
            raise TypeError(f"{owner}: `check_finite` must be a bool, got {check_finite!r} "
                            f"of type {type(check_finite).__name__}.")
        for loss in losses:
            loss.validate_model_compatibility(teacher, student)
        teacher.trainable = False  # only once everything checked out
        self.teacher = teacher
        self.student = student
        self.distillation_losses = losses
        self.distillation_loss_weights = weights
        self.student_loss_weight = student_loss_weight
        self.check_finite = check_finite
        self.term_names = []
        for loss in losses:
            self.term_names.append(_term_name(loss, {STUDENT_LOSS, *self.term_names}))
        self.teacher_features = feature_extractor(teacher, _layer_names(losses, "teacher"))
        self.student_features = feature_extractor(student, _layer_names(losses, "student"))
        self.student_loss_tracker = keras.metrics.Mean(name=STUDENT_LOSS)
        self.term_trackers = [keras.metrics.Mean(name=n) for n in self.term_names]
        if check_finite:
            self.nonfinite_inputs_tracker = keras.metrics.Sum(name=NONFINITE_INPUTS)
        self.built = True

    # -- what the per-backend steps call ---------------------------------
    @staticmethod
    def split_inputs(x):
        """``(inputs, cached teacher outputs or None)`` from a batch's ``x``."""
        if isinstance(x, dict) and set(x) == {"inputs", "teacher"}:
            return x["inputs"], x["teacher"]
        return x, None

    def teacher_outputs(self, inputs):
        """The teacher's output and requested features, ``{key: tensor}``."""
        return self.teacher_features(inputs, training=False)

    def checked_cache(self, cached):
        """The cached teacher outputs, after checking they hold every key needed."""
        missing = [k for k in self.teacher_features.output if k not in cached]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: the teacher cache lacks {missing} (it holds "
                f"{sorted(cached)}). Build it with cache_teacher(distiller, x) for this "
                "distiller."
            )
        return {k: cached[k] for k in self.teacher_features.output}

    def student_outputs(self, inputs, training):
        """The student's output and requested features, ``{key: tensor}``."""
        return self.student_features(inputs, training=training)

    def loss_terms(self, inputs, y, sample_weight, teacher, student, training, replicas=1):
        """The weighted total loss and every term, in ``keras.ops``.

        Args:
            replicas: how many replicas each run this step on their share of
                the batch (``tf.distribute``). Keras divides the compiled loss
                by it; the values returned here are undivided means over the
                replica's batch, and the caller divides the total for the
                gradient.

        Returns:
            ``(total, {term name: unweighted value})``.
        """
        y_pred = student[FINAL]
        terms, total = {}, 0.0
        if self.loss is not None:
            terms[STUDENT_LOSS] = replicas * self.compute_loss(
                inputs, y, y_pred, sample_weight, training=training)
            total = self.student_loss_weight * terms[STUDENT_LOSS]
        else:
            for extra in self.losses:  # the student's regularization
                total = total + extra
        for name, loss, weight in zip(self.term_names, self.distillation_losses,
                                      self.distillation_loss_weights):
            t_key = getattr(loss, "teacher_layer_name", None) or FINAL
            s_key = getattr(loss, "student_layer_name", None) or FINAL
            t, s = teacher[t_key], student[s_key]
            if not isinstance(loss, KDLoss):
                s = _read_out_time(t, s)
            terms[name] = ops.convert_to_tensor(loss.compute_loss(t, s))
            total = total + weight * terms[name]
        return ops.convert_to_tensor(total), terms

    def update_metrics(self, inputs, y, sample_weight, student, total, terms):
        """Updates the loss, term and compiled metrics; returns the logs."""
        batch = ops.shape(keras.tree.flatten(inputs)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(total, sample_weight=batch)
        if STUDENT_LOSS in terms:
            self.student_loss_tracker.update_state(terms[STUDENT_LOSS], sample_weight=batch)
        for name, tracker in zip(self.term_names, self.term_trackers):
            tracker.update_state(terms[name], sample_weight=batch)
        if self.check_finite:
            floats = [t for t in keras.tree.flatten(inputs)
                      if keras.backend.is_float_dtype(keras.backend.standardize_dtype(t.dtype))]
            finite = [ops.all(ops.isfinite(t)) for t in floats]
            self.nonfinite_inputs_tracker.update_state(
                ops.cast(ops.logical_not(ops.all(ops.stack(finite))), "float32")
                if finite else 0.0)
        if y is None:
            return self.get_metrics_result()
        return self.compute_metrics(inputs, y, student[FINAL], sample_weight)

    # -- Keras API -------------------------------------------------------
    # Compiled from the backend's step on, as Keras's own step is (see
    # `keras_snnkd.backend.torch_compile`).
    @skip_own_frame
    def train_step(self, *args):
        return _backend().distill_train_step(self, *args)

    def test_step(self, *args):
        return _backend().distill_test_step(self, *args)

    def call(self, inputs, training=None):
        inputs, _ = self.split_inputs(inputs)
        return self.student(inputs, training=training)

    @property
    def losses(self):
        """Regularization losses of what trains: the student and the loss terms."""
        found = list(self.student.losses)
        for loss in self.distillation_losses:
            if isinstance(loss, keras.layers.Layer):
                found.extend(loss.losses)
        return found

    # Keras's property, under a second name: torch.compile traces neither super()
    # of a property nor property.fget, and would run every metric update eagerly,
    # breaking the training step's graph.
    _model_metrics = keras.Model.metrics

    @property
    def metrics(self):
        return [m for m in self._model_metrics
                if m is not self.student_loss_tracker or self.loss is not None]

    @property
    def loss_term_names(self):
        """Names of the loss terms in the logs: ``student_loss`` (when compiled
        with a loss) then the distillation terms."""
        return ([STUDENT_LOSS] if self.loss is not None else []) + list(self.term_names)

    def fit(self, *args, **kwargs):
        """`keras.Model.fit`, with a `TerminateOnNaNTerm` added to the callbacks
        (unless one is there; one that raises, after the input check, with
        ``check_finite``)."""
        arguments = inspect.signature(super().fit).bind(*args, **kwargs).arguments
        callbacks = arguments.get("callbacks")
        if callbacks is None or isinstance(callbacks, (list, tuple)):
            callbacks = list(callbacks or [])
            if self.check_finite:
                callbacks.insert(0, _StopOnNonFiniteInputs())
            if not any(isinstance(c, TerminateOnNaNTerm) for c in callbacks):
                callbacks.append(TerminateOnNaNTerm(raise_error=self.check_finite))
            arguments["callbacks"] = callbacks
        return super().fit(**arguments)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; with ``check_finite`` it raises on a batch of
        non-finite inputs."""
        if self.check_finite:
            arguments = inspect.signature(super().evaluate).bind(*args, **kwargs).arguments
            arguments["callbacks"] = [_StopOnNonFiniteInputs(),
                                      *(arguments.get("callbacks") or [])]
            return super().evaluate(**arguments)
        return super().evaluate(*args, **kwargs)

    def get_config(self):
        def serialize(model):  # architecture only: their own compile state is not ours
            config = keras.saving.serialize_keras_object(model)
            config.pop("compile_config", None)
            return config

        return {
            "name": self.name,
            "teacher": serialize(self.teacher),
            "student": serialize(self.student),
            "losses": [keras.saving.serialize_keras_object(loss)
                       for loss in self.distillation_losses],
            "loss_weights": list(self.distillation_loss_weights),
            "student_loss_weight": self.student_loss_weight,
            "check_finite": self.check_finite,
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["teacher"] = deserialize(config["teacher"])
        config["student"] = deserialize(config["student"])
        config["losses"] = [deserialize(loss) for loss in config["losses"]]
        return cls(**config)
