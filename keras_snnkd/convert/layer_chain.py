"""`layer_chain`: the layers of a Sequential or functional model, as one chain."""

import keras


def layer_chain(model):
    """Returns the layers of ``model`` from input to output as a flat list.

    Nested Sequential/functional models are expanded in place; input layers
    are left out. The model must be a plain chain: one input, one output,
    every layer fed by the one before it and used once.

    Args:
        model: a built `keras.Sequential` or functional `keras.Model`.

    Returns:
        List of `keras.layers.Layer`, in the order data flows through them.

    Raises:
        ValueError: the model is subclassed or unbuilt, has several
            inputs or outputs, branches (a layer with several inputs, a layer
            used twice, a layer off the main path) or non-layer operations.

    Example:
    >>> import keras
    >>> from keras_snnkd.convert import layer_chain
    >>> inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a")])
    >>> model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2, name="b")])
    >>> [layer.name for layer in layer_chain(model)]
    ['a', 'b']
    """
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if not isinstance(model, keras.Model) or not inputs or not outputs:
        raise ValueError(
            f"layer_chain: `model` must be a built keras.Sequential or functional "
            f"keras.Model (with a keras.Input); got {type(model).__name__} "
            f"{getattr(model, 'name', model)!r}. Subclassed models have no graph to map."
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"layer_chain: model {model.name!r} must have one input and one output; "
            f"got {len(inputs)} inputs and {len(outputs)} outputs."
        )
    chain = []
    tensor = outputs[0]
    while tensor is not inputs[0]:
        operation, node_index, _ = tensor._keras_history
        if not isinstance(operation, keras.layers.Layer):
            raise ValueError(
                f"layer_chain: model {model.name!r} applies the operation "
                f"{operation.name!r} ({type(operation).__name__}) outside any layer; "
                "only layers can be converted."
            )
        node_inputs = operation._inbound_nodes[node_index].input_tensors
        if len(node_inputs) != 1:
            raise ValueError(
                f"layer_chain: layer {operation.name!r} ({type(operation).__name__}) of "
                f"model {model.name!r} takes {len(node_inputs)} inputs: branches and "
                "merges cannot be mapped, only a single chain of layers."
            )
        chain.append(operation)
        tensor = node_inputs[0]
    chain.reverse()
    _check_covers(model, chain)
    flat = []
    for layer in chain:
        flat.extend(layer_chain(layer) if isinstance(layer, keras.Model) else [layer])
    return flat


def _check_covers(model, chain):
    """Every layer of ``model`` is on the chain, once."""
    for layer in chain:
        if chain.count(layer) > 1:
            raise ValueError(
                f"layer_chain: layer {layer.name!r} is applied {chain.count(layer)} "
                f"times in model {model.name!r}; shared layers cannot be mapped."
            )
    on_chain = {id(layer) for layer in chain}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.InputLayer) and id(layer) not in on_chain:
            raise ValueError(
                f"layer_chain: layer {layer.name!r} ({type(layer).__name__}) of model "
                f"{model.name!r} is not on the path from input to output (a branch); "
                "only a single chain of layers can be mapped."
            )
