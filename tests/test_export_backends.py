"""Export under JAX and PyTorch: saved as .keras, converted in a TensorFlow subprocess."""

import numpy as np
import pytest

from conftest import BACKEND

EXTRA = "export needs the export extra: pip install 'keras_snnkd[export]'"
pytest.importorskip("tensorflow", reason=EXTRA)
pytest.importorskip("ai_edge_litert", reason=EXTRA)


@pytest.mark.skipif(BACKEND == "tensorflow",
                    reason="the in-process path is covered by test_export.py")
def test_int8_export_through_tensorflow_subprocess(tmp_path):
    from keras_snnkd.export import LiteRTModel, inspect_tflite, to_tflite
    from keras_snnkd.models import dense_snn

    model = dense_snn(timesteps=3, input_shape=(6,), hidden=(12,))
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32") * 2
    path = to_tflite(model, tmp_path / "m.tflite", quantize="int8", representative_data=x)
    assert inspect_tflite(path)["dtypes"] <= {"int8", "int32"}
    out = LiteRTModel(path).predict(x)
    assert np.mean(out.argmax(1) == model.predict(x, verbose=0).argmax(1)) >= 0.9
    with pytest.raises(ValueError, match="representative_data"):
        to_tflite(model, tmp_path / "bad.tflite", quantize="int8", representative_data=x[:, :5])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]
