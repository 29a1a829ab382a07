"""``python -m keras_snnkd.cli``: the same as the ``snnkd`` command."""

from keras_snnkd.cli import run

if __name__ == "__main__":
    run()
