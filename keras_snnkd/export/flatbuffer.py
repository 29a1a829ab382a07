"""`inspect_tflite`: the operators and tensor types inside a TFLite flatbuffer."""

from keras_snnkd.export._files import read_tflite

def inspect_tflite(path):
    """Walks a ``.tflite`` flatbuffer (schema only, no interpreter).

    Args:
        path: a ``.tflite`` file.

    Returns:
        A dict with ``operators`` (builtin operator names in execution order,
        all subgraphs), ``tensors`` (dicts with ``name``, ``dtype`` and
        ``constant``: whether it holds stored data, such as weights), ``dtypes``
        (the set of tensor dtypes), ``inputs`` and ``outputs`` (dtypes of the
        model inputs/outputs) and ``bytes`` (file size).

    Example:
    >>> import os, tempfile, numpy as np, tensorflow as tf
    >>> double = tf.function(lambda x: tf.nn.relu(2.0 * x), input_signature=[tf.TensorSpec((1, 4))])
    >>> blob = tf.lite.TFLiteConverter.from_concrete_functions(
    ...     [double.get_concrete_function()], double).convert()
    >>> path = os.path.join(tempfile.mkdtemp(), "double.tflite")
    >>> _ = open(path, "wb").write(blob)
    >>> from keras_snnkd.export import inspect_tflite
    >>> info = inspect_tflite(path)
    >>> info["operators"], info["inputs"], sorted(info["dtypes"])  # ReLU fused into MUL
    (['MUL'], ['float32'], ['float32'])
    """
    from ai_edge_litert import schema_py_generated as schema

    _, blob, model = read_tflite("inspect_tflite", "path", path)
    names = {value: name for name, value in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    types = {value: name.lower() for name, value in vars(schema.TensorType).items()
             if not name.startswith("_")}
    operators, tensors, inputs, outputs = [], [], [], []
    for graph in model.subgraphs:
        for op in graph.operators or []:
            code = model.operatorCodes[op.opcodeIndex]
            operators.append(names.get(max(code.builtinCode, code.deprecatedBuiltinCode),
                                       "CUSTOM"))
        graph_tensors = [
            {"name": t.name.decode() if isinstance(t.name, bytes) else t.name,
             "dtype": types[t.type], "constant": _is_constant(model, t)}
            for t in graph.tensors]
        tensors += graph_tensors
        inputs += [graph_tensors[i]["dtype"] for i in graph.inputs]
        outputs += [graph_tensors[i]["dtype"] for i in graph.outputs]
    return {"operators": operators, "tensors": tensors,
            "dtypes": {t["dtype"] for t in tensors}, "inputs": inputs,
            "outputs": outputs, "bytes": len(blob)}


def _is_constant(model, tensor):
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is None:
        return False
    return buffer.data is not None and len(buffer.data) > 0 or bool(getattr(buffer, "size", 0))
