"""SNN teacher -> smaller SNN student with spike-based KD ("Distilling Spikes").

Both networks classify by the spike counts of their output neurons
(``distill_common.conv_snn(..., spiking_output=True)``): the teacher is wider (16/32
channels, 128 hidden) and runs T=6 steps, the student (4/8 channels, 32 hidden) runs T=4,
so the spike losses compare firing rates across different T. Per seed the teacher is
trained on the 4,000 training images, then the student from the same initial weights
once per method:

- ``scratch``: cross-entropy on the output spike counts;
- ``spike_count_kd``: 0.5 x cross-entropy + 0.5 x `SpikeCountKD` (temperature 1): KL
  between softmaxed output spike counts, the teacher's put on the student's 4 steps;
- ``rate_kd``: cross-entropy + 5 x `RateKD`: MSE between output firing rates;
- ``spike_count_kd+rate_kd``: both.

Test accuracy on the 1,000 held-out images, mean ± std over the seeds.

    python examples/distill_snn_to_snn.py            # full run (3 seeds)
    python examples/distill_snn_to_snn.py --fast     # smoke run (used by the tests)

Writes ``distill_snn_to_snn.json`` to ``--out`` (default ``examples/results``).
"""

import time

import keras
from tqdm import tqdm

import distill_common as common
from keras_snnkd.distill import RateKD, SpikeCountKD

TEACHER_T, STUDENT_T = 6, 4
METHODS = {
    "spike_count_kd": (lambda: [SpikeCountKD(temperature=1.0)], [0.5], 0.5),
    "rate_kd": (lambda: [RateKD()], [5.0], 1.0),
    "spike_count_kd+rate_kd": (lambda: [SpikeCountKD(temperature=1.0), RateKD()], [0.5, 5.0], 0.5),
}


def teacher_snn():
    return common.conv_snn(TEACHER_T, channels=(16, 32), hidden=128, spiking_output=True,
                           name="snn_teacher")


def student_snn():
    return common.conv_snn(STUDENT_T, channels=(4, 8), hidden=32, spiking_output=True)


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], epochs=8, teacher_epochs=4, argv=argv)
    started = time.time()
    (x, y), (x_test, y_test) = common.load_data(args.fast)
    runs = {}
    progress = tqdm(total=args.seeds * (2 + len(METHODS)), desc="snn->snn", unit="model")
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        teacher = common.train(teacher_snn(), x, y, args.teacher_epochs)
        runs.setdefault(f"teacher (SNN, T={TEACHER_T})", []).append(
            common.accuracy(teacher, x_test, y_test))
        progress.update()
        keras.utils.set_random_seed(1000 + seed)
        initial = student_snn().get_weights()
        for name, setting in {"scratch": None, **METHODS}.items():
            student = student_snn()
            student.set_weights(initial)
            if setting is None:
                common.train(student, x, y, args.epochs)
            else:
                losses, weights, student_weight = setting
                common.distill(teacher, student, losses(), x, y, args.epochs, weights,
                               student_weight)
            runs.setdefault(f"student (T={STUDENT_T}): {name}", []).append(
                common.accuracy(student, x_test, y_test))
            progress.update()
    progress.close()
    return common.report(args, "distill_snn_to_snn", {
        "experiment": "SNN teacher -> smaller SNN student (spike-count readout), MNIST subset",
        "teacher": f"conv_snn(T={TEACHER_T}, channels=(16, 32), hidden=128, spiking_output=True)",
        "student": f"conv_snn(T={STUDENT_T}, channels=(4, 8), hidden=32, spiking_output=True)",
        "methods": {
            "scratch": "cross-entropy on output spike counts",
            "spike_count_kd": "0.5 CE + 0.5 SpikeCountKD(temperature=1) on the output LIF layers",
            "rate_kd": "CE + 5 RateKD on the output LIF layers",
            "spike_count_kd+rate_kd": "0.5 CE + 0.5 SpikeCountKD(1) + 5 RateKD",
        },
    }, runs, started)


if __name__ == "__main__":
    main()
