"""Knowledge distillation into spiking students with plain ``fit``.

`Distiller` wraps a frozen teacher (ANN or SNN) and a trainable student and
trains the student on a weighted sum of its own loss and distillation terms:

- `ResponseKD`: soft targets from the teacher's logits (Hinton).
- `SpikeCountKD`, `RateKD`: output spike counts / firing rates (SNN -> SNN).
- `FeatureKD`, `AttentionTransfer`: a teacher feature map against the student's
  time-averaged firing rates at a named layer (ANN -> SNN).
- any ``keras.distillation.DistillationLoss``.

`distill_chain` runs teacher -> assistant -> ... -> student, `cache_teacher`
precomputes the teacher's outputs once, `TerminateOnNaNTerm` stops training on
a NaN term and names it, `AtomicBackupAndRestore` resumes a killed run from its
last epoch checkpoint.
"""

from keras_snnkd.distill.atomic_backup import AtomicBackupAndRestore
from keras_snnkd.distill.attention_transfer import AttentionTransfer
from keras_snnkd.distill.chain import distill_chain
from keras_snnkd.distill.distiller import Distiller
from keras_snnkd.distill.feature_kd import FeatureKD
from keras_snnkd.distill.feature_loss import FeatureLoss
from keras_snnkd.distill.kd_loss import KDLoss
from keras_snnkd.distill.rate_kd import RateKD
from keras_snnkd.distill.response_kd import ResponseKD
from keras_snnkd.distill.spike_count_kd import SpikeCountKD
from keras_snnkd.distill.spike_loss import SpikeLoss
from keras_snnkd.distill.teacher_cache import cache_teacher
from keras_snnkd.distill.terminate_on_nan_term import TerminateOnNaNTerm

__all__ = [
    "Distiller",
    "KDLoss",
    "ResponseKD",
    "SpikeLoss",
    "SpikeCountKD",
    "RateKD",
    "FeatureLoss",
    "FeatureKD",
    "AttentionTransfer",
    "distill_chain",
    "cache_teacher",
    "TerminateOnNaNTerm",
    "AtomicBackupAndRestore",
]
