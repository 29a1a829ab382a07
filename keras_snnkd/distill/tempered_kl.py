"""The temperature-softened KL divergence shared by logit and spike-count KD."""

from keras import ops


def standardized(logits, epsilon=1e-6):
    """``(z - mean(z)) / sqrt(var(z) + eps)`` over the last axis (logit standardization).

    ``eps`` sits inside the square root: a constant logit vector (a silent
    student) has ``var = 0``, where the slope of ``sqrt`` is infinite.
    """
    centered = logits - ops.mean(logits, axis=-1, keepdims=True)
    return centered * ops.rsqrt(ops.mean(ops.square(centered), axis=-1, keepdims=True) + epsilon)


def tempered_kl(teacher_logits, student_logits, temperature):
    """``tau^2 * mean_b KL(softmax(z_t / tau) || softmax(z_s / tau))``.

    ``KL(p || q) = sum_k p_k (log p_k - log q_k)`` over the last axis, averaged
    over the other axes. The ``tau^2`` factor keeps the gradient scale of the
    soft targets independent of ``tau`` (Hinton et al., 2015).

    Args:
        teacher_logits, student_logits: float tensors of the same shape.
        temperature: ``tau > 0``.

    Returns:
        A scalar tensor.
    """
    log_p = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_q = ops.log_softmax(student_logits / temperature, axis=-1)
    kl = ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)
    return temperature ** 2 * ops.mean(kl)
