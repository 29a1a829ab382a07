"""Multi-stage (teacher -> assistant -> student) vs single-stage distillation.

Teacher-assistant KD (Mirzadeh et al., 2020): when the student is much smaller than
the teacher, a mid-sized assistant can bridge the gap. Per seed, on the bundled MNIST
subset: the reference ANN teacher is trained; then, from the same initial student
weights,

- ``scratch``: the small SNN student on labels only;
- ``single-stage``: teacher -> student with 0.5 x cross-entropy + 0.5 x `ResponseKD`
  (temperature 2, standardized logits);
- ``multi-stage``: `distill_chain` teacher -> assistant SNN (16/32 channels, 64 hidden)
  -> student, the same loss at each stage.

The student is the dense SNN of ``distill_ann_to_snn.py`` (``models.dense_snn``: Dense(128),
T=4); the assistant is a spiking CNN (``distill_common.conv_snn``, T=2). Every stage trains
``--epochs`` epochs. Test accuracy on the 1,000 held-out images, mean ± std over the seeds.

    python examples/distill_multistage.py            # full run (3 seeds)
    python examples/distill_multistage.py --fast     # smoke run (used by the tests)

Writes ``distill_multistage.json`` to ``--out`` (default ``examples/results``).
"""

import time

import keras
from tqdm import tqdm

import distill_common as common
from keras_snnkd.distill import ResponseKD, distill_chain

ASSISTANT_T = 2


def response_kd():
    return [ResponseKD(temperature=2.0, standardize=True)]


def assistant_snn():
    return common.conv_snn(ASSISTANT_T, channels=(16, 32), hidden=64, name="assistant")


def main(argv=None):
    args = common.parse_args(__doc__.splitlines()[0], epochs=30, teacher_epochs=8, argv=argv)
    started = time.time()
    (x, y), (x_test, y_test) = common.load_data(args.fast)
    runs = {}
    progress = tqdm(total=args.seeds * 4, desc="multi-stage", unit="run")
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        teacher = common.ann_teacher(x, y, args.teacher_epochs)
        runs.setdefault("teacher (reference ANN)", []).append(
            common.accuracy(teacher, x_test, y_test))
        keras.utils.set_random_seed(1000 + seed)
        initial = common.dense_student().get_weights()
        students = {}
        for name in ("scratch", "single-stage", "multi-stage"):
            students[name] = common.dense_student()
            students[name].set_weights(initial)
        progress.update()
        common.train(students["scratch"], x, y, args.epochs)
        progress.update()
        common.distill(teacher, students["single-stage"], response_kd(), x, y, args.epochs,
                       [0.5], 0.5)
        progress.update()
        assistant = assistant_snn()
        distill_chain([teacher, assistant, students["multi-stage"]], x, y,
                      losses=response_kd(), loss_weights=[0.5],
                      student_loss_weight=0.5, optimizer=common.optimizer(args.epochs, len(x)),
                      loss=common.CE, use_teacher_cache=True, epochs=args.epochs,
                      batch_size=common.BATCH, verbose=0)
        progress.update()
        runs.setdefault("assistant (SNN, stage 1 of multi-stage)", []).append(
            common.accuracy(assistant, x_test, y_test))
        for name, student in students.items():
            runs.setdefault(f"student: {name}", []).append(
                common.accuracy(student, x_test, y_test))
    progress.close()
    return common.report(args, "distill_multistage", {
        "experiment": "multi-stage vs single-stage distillation, MNIST subset",
        "teacher": "models.reference_ann()",
        "assistant": f"conv_snn(T={ASSISTANT_T}, channels=(16, 32), hidden=64)",
        "student": "models.dense_snn(timesteps=4, hidden=(128,))",
        "loss": "0.5 CE + 0.5 ResponseKD(temperature=2, standardize=True) at every stage, "
                "`epochs` epochs per stage",
    }, runs, started)


if __name__ == "__main__":
    main()
