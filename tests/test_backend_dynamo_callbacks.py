"""keras_snnkd.backend.dynamo_callbacks: a compile-start callback runs at Dynamo's
compiles and is registered once however often it is asked for."""

from conftest import TORCH_COMPILE_ONLY


@TORCH_COMPILE_ONLY
def test_a_callback_registers_once_and_runs_at_compile_start():
    import torch
    import torch._dynamo

    from keras_snnkd.backend import dynamo_callbacks

    calls = []

    def callback(_args=None):
        calls.append(1)

    handler = torch._dynamo.callback_handler
    try:
        assert dynamo_callbacks.on_compile_start(callback) is True
        assert dynamo_callbacks.on_compile_start(callback) is True
        assert handler.start_callbacks.count(callback) == 1
        compiled = torch.compile(lambda x: x * 3, backend="eager")
        assert float(compiled(torch.ones(()))) == 3.0
        assert len(calls) == 1
    finally:
        handler.start_callbacks.remove(callback)
