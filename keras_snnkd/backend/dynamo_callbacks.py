"""Dynamo's compile-start callbacks, through which keras_snnkd's ``torch.compile``
settings act at the first compile instead of at import."""


def on_compile_start(callback):
    """Registers ``callback`` to run at the start of each of Dynamo's compiles
    (with Dynamo's callback arguments); registering it again changes nothing.
    Imports PyTorch.

    Args:
        callback: a callable taking Dynamo's callback arguments.

    Returns:
        True if ``callback`` is registered; False where this PyTorch has no
        compile-start callbacks.
    """
    import torch._dynamo

    handler = getattr(torch._dynamo, "callback_handler", None)
    if handler is None or not hasattr(handler, "register_start_callback"):
        return False
    if callback not in getattr(handler, "start_callbacks", ()):
        handler.register_start_callback(callback)
    return True
