"""A plain Keras script that trains a small spiking CNN on labels: the "before".

    python examples/keras_script_before.py [--fast]

`add_distillation_to_keras_script.py` is this script with a teacher added (see its diff).
Writes keras_script_before.json to --out (default examples/results).
"""

import argparse
import json
import os

import keras
import numpy as np

from keras_snnkd import datasets
from keras_snnkd.layers import MeanOverTime, RepeatEncoder, TimeFolded as F
from keras_snnkd.neurons import LIF

NAME = os.path.splitext(os.path.basename(__file__))[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fast", action="store_true", help="250 images, 1 epoch")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = datasets.load_mnist_subset()
    if args.fast:  # the subset is sorted by class: take every 16th image
        x_train, y_train, x_test, y_test = x_train[::16], y_train[::16], x_test[::4], y_test[::4]
        args.epochs = 1
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, padding="same"),
        RepeatEncoder(4), LIF(beta=0.9), F(keras.layers.AveragePooling2D(2)),
        F(keras.layers.Conv2D(16, 3, padding="same")), LIF(beta=0.9),
        F(keras.layers.AveragePooling2D(2)), F(keras.layers.Flatten()),
        F(keras.layers.Dense(64)), LIF(beta=0.9), F(keras.layers.Dense(10)), MeanOverTime(),
    ])
    steps = args.epochs * -(-len(x_train) // 64)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps))

    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, verbose=2)

    accuracy = np.mean(model.predict(x_test, verbose=0).argmax(-1) == y_test)
    print(f"test accuracy {accuracy:.4f}")
    os.makedirs(args.out, exist_ok=True)
    model.save(os.path.join(args.out, f"{NAME}.keras"))
    result = {"script": NAME, "backend": keras.backend.backend(), "fast": args.fast,
              "epochs": args.epochs, "train": len(x_train), "test": len(x_test),
              "test_accuracy": float(accuracy)}
    with open(os.path.join(args.out, f"{NAME}.json"), "w") as f:
        json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
