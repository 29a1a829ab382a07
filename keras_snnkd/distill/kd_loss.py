"""`KDLoss`: the base class of keras_snnkd's distillation losses."""

import keras

from keras_snnkd.distill.model_outputs import is_time_major, layer_output


@keras.saving.register_keras_serializable(package="keras_snnkd")
class KDLoss(keras.layers.Layer, keras.distillation.DistillationLoss):
    """Base class of a distillation loss term: a teacher signal against a student signal.

    A term reads the output of one teacher layer and one student layer
    (``None``: the model's own output), checks their shapes once, symbolically,
    when a `keras_snnkd.distill.Distiller` is built
    (`validate_model_compatibility`), and maps a batch of both to a scalar in
    `compute_loss`, with ``keras.ops`` only. It is a Keras layer, so a term that
    learns (e.g. a feature adapter) owns its weights, which train with the
    student and save with the distiller. It is also a
    ``keras.distillation.DistillationLoss``: `keras.distillation.Distiller`
    accepts it, and `Distiller` accepts Keras's own losses.

    Subclasses implement ``build(teacher_shape, student_shape)`` (validation,
    weights) and ``compute_loss(teacher_outputs, student_outputs)``; they may
    override `resolve_layer_names` to choose default layers. A layer built with
    ``return_membrane=True`` gives the pair ``(spikes, membrane)`` (shapes: a
    pair of shapes). After validation, ``time_major`` tells for (teacher,
    student) whether the layer outputs ``(batch, T, ...)`` (a neuron, encoder or
    `keras_snnkd.layers.TimeFolded` layer; None for a model output or before
    validation, when a subclass falls back on comparing ranks).

    Args:
        teacher_layer_name: name of the teacher layer to read, or None for the
            teacher's output.
        student_layer_name: name of the student layer to read, or None for the
            student's output.
        **kwargs: `keras.layers.Layer` arguments (``name``...). ``dtype``
            defaults to ``keras.config.floatx()``, not the global dtype policy:
            under mixed precision a term computes in float32, as Keras's losses do.
    """

    def __init__(self, teacher_layer_name=None, student_layer_name=None, **kwargs):
        # Under `mixed_bfloat16` a softmax or a KL divergence in bfloat16 would keep
        # 8 significant bits.
        kwargs.setdefault("dtype", keras.config.floatx())
        super().__init__(**kwargs)
        owner = type(self).__name__
        for arg, value in (("teacher_layer_name", teacher_layer_name),
                           ("student_layer_name", student_layer_name)):
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"{owner}: `{arg}` must be a layer name (str) or None, got "
                    f"{value!r} of type {type(value).__name__}."
                )
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self._model_shapes = None
        self.time_major = None

    def resolve_layer_names(self, teacher, student):
        """Hook run before validation to fill in default layer names; does nothing here."""

    def validate_model_compatibility(self, teacher, student):
        """Resolves layer names, checks the shapes this term reads and builds it.

        Args:
            teacher, student: built Functional or Sequential models.

        Raises:
            ValueError: a layer name is not in the model (the message lists the
                valid names), or the shapes cannot be compared.
        """
        owner = type(self).__name__
        self.resolve_layer_names(teacher, student)
        self.time_major = tuple(
            is_time_major(owner, role, model, getattr(self, f"{role}_layer_name"))
            for role, model in (("teacher", teacher), ("student", student)))
        shape = lambda value: keras.tree.map_structure(lambda t: tuple(t.shape), value)
        shapes = (
            shape(layer_output(owner, "teacher", teacher, self.teacher_layer_name)),
            shape(layer_output(owner, "student", student, self.student_layer_name)),
        )
        if not self.built:
            self.build(*shapes)
        elif self._model_shapes not in (None, shapes):
            raise ValueError(
                f"{owner} {self.name!r} is already built for teacher/student shapes "
                f"{self._model_shapes}; these models give {shapes}. Use a new "
                f"{owner} for each teacher/student pair."
            )
        self._model_shapes = shapes

    def build(self, teacher_shape, student_shape):
        """Checks the shapes (and creates weights); subclasses override it."""

    def validate_outputs(self, teacher_outputs, student_outputs):
        """Nothing to check per batch: shapes were checked symbolically."""

    def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
        """Returns the scalar loss for one batch; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss.")

    def call(self, teacher_outputs, student_outputs):
        return self.compute_loss(teacher_outputs, student_outputs)

    def get_build_config(self):
        """None: a term is built by `validate_model_compatibility`, from the models."""
        return None

    def get_config(self):
        return {**super().get_config(), "teacher_layer_name": self.teacher_layer_name,
                "student_layer_name": self.student_layer_name}
