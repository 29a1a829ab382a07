"""`AtomicBackupAndRestore`: epoch checkpoints that survive a kill at any instant."""

import glob
import json
import os
import shutil
import tempfile

import keras

STATE = "state.json"


def _write_atomically(folder, suffix, write):
    """Calls ``write(temp_path)`` on a new file in ``folder``, flushes it to disk and
    returns the temporary path (the caller renames it with `os.replace`)."""
    handle, temp = tempfile.mkstemp(prefix=".part-", suffix=suffix, dir=folder)
    os.close(handle)
    try:
        write(temp)
        with open(temp, "rb+") as done:
            os.fsync(done.fileno())
    except BaseException:
        os.remove(temp)
        raise
    return temp


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """Backs up the model (weights and optimizer state) after every epoch and
    restores it when ``fit`` starts again, so that a run killed at any instant
    and started again with the same command ends after the same number of
    epochs.

    It does what ``keras.callbacks.BackupAndRestore`` does, with writes that
    cannot be torn: the weights go to a new file, which is renamed into place
    (`os.replace`) once written and synced; then ``state.json`` (the epoch and
    the name of its weights file), written the same way, commits the
    checkpoint; older weights files are deleted after that. A kill before the
    commit leaves the previous checkpoint intact; a kill after it leaves the
    new one. An epoch that was interrupted runs again from its start.

    Args:
        backup_dir: folder of the checkpoint (created when needed).
        fingerprint: optional JSON-able description of the run (e.g. its
            arguments); a checkpoint written with another fingerprint is
            refused, instead of being resumed into the wrong run.
        delete_checkpoint: delete ``backup_dir`` when training ends.

    Example:
    >>> import os, tempfile, keras, numpy as np
    >>> from keras_snnkd.distill import AtomicBackupAndRestore
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> folder = os.path.join(tempfile.mkdtemp(), "backup")
    >>> backup = AtomicBackupAndRestore(folder, delete_checkpoint=False)
    >>> x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[backup])
    >>> backup.restored_epoch, sorted(os.listdir(folder))
    (0, ['epoch-0002.weights.h5', 'state.json'])
    >>> history = model.fit(x, y, epochs=3, verbose=0, callbacks=[backup])
    >>> backup.restored_epoch, history.epoch  # resumed after epoch 2
    (2, [2])
    """

    def __init__(self, backup_dir, fingerprint=None, delete_checkpoint=True):
        super().__init__()
        if not isinstance(backup_dir, (str, os.PathLike)) or not os.fspath(backup_dir):
            raise TypeError(
                "AtomicBackupAndRestore: `backup_dir` must be a non-empty str or "
                f"os.PathLike, got {backup_dir!r} of type {type(backup_dir).__name__}."
            )
        try:  # as read back from state.json (tuples become lists)
            fingerprint = json.loads(json.dumps(fingerprint))
        except TypeError as error:
            raise TypeError(
                "AtomicBackupAndRestore: `fingerprint` must be JSON-serializable, got "
                f"{fingerprint!r} ({error})."
            ) from None
        self.backup_dir = os.fspath(backup_dir)
        self.fingerprint = fingerprint
        self.delete_checkpoint = delete_checkpoint
        #: The epoch training resumed after (0: it started from scratch).
        self.restored_epoch = 0

    @property
    def state_path(self):
        """The ``state.json`` that commits a checkpoint."""
        return os.path.join(self.backup_dir, STATE)

    def read_state(self):
        """The committed checkpoint's ``{"epoch", "weights", "fingerprint"}``, or None."""
        if not os.path.exists(self.state_path):
            return None
        with open(self.state_path) as handle:
            return json.load(handle)

    def on_train_begin(self, logs=None):
        self.restored_epoch = 0
        for stray in glob.glob(os.path.join(glob.escape(self.backup_dir), ".part-*")):
            os.remove(stray)  # a write that a kill cut short: never committed
        state = self.read_state()
        if state is None:
            return
        if state.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"AtomicBackupAndRestore: the checkpoint in {self.backup_dir!r} belongs to "
                f"another run (fingerprint {state.get('fingerprint')!r}, this run "
                f"{self.fingerprint!r}). Delete the folder to start afresh."
            )
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        self.restored_epoch = state["epoch"]
        self.model._initial_epoch = state["epoch"]  # what fit reads after on_train_begin

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        weights = _write_atomically(self.backup_dir, ".weights.h5",
                                    lambda path: self.model.save_weights(path, overwrite=True))
        os.replace(weights, os.path.join(self.backup_dir, name))
        state = {"epoch": epoch + 1, "weights": name, "fingerprint": self.fingerprint}

        def write_state(path):
            with open(path, "w") as handle:
                json.dump(state, handle)

        os.replace(_write_atomically(self.backup_dir, ".json", write_state), self.state_path)
        for path in glob.glob(os.path.join(glob.escape(self.backup_dir), "*.weights.h5")):
            if os.path.basename(path) != name:
                os.remove(path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)
