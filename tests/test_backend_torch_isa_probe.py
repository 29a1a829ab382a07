"""TorchInductor's probe of the CPU's vector instructions runs in a background
thread from Dynamo's first compile on (keras_snnkd.backend.torch_isa_probe)."""

import json

import pytest

from conftest import TORCH_COMPILE_ONLY, run_python
from keras_snnkd.backend import torch_isa_probe



@pytest.mark.parametrize("environ, backend, cuda, expected", [
    ({}, "torch", False, True),
    ({torch_isa_probe.OPT_OUT: "1"}, "torch", False, True),
    ({torch_isa_probe.OPT_OUT: "0"}, "torch", False, False),
    ({}, "torch", True, False),
    ({}, "tensorflow", False, False),
    ({}, "jax", False, False),
])
def test_wanted_under_pytorch_on_a_cpu_only_machine_unless_opted_out(environ, backend, cuda,
                                                                     expected):
    assert torch_isa_probe.wanted(environ, backend, cuda) is expected


def test_configure_does_nothing_when_opted_out():
    assert torch_isa_probe.configure({torch_isa_probe.OPT_OUT: "0"}) is False


# In an empty Inductor cache, compiles two functions with Dynamo's "eager" backend,
# which never reaches Inductor: Inductor's list of vector instruction sets is filled
# only if the probe ran. Prints what the process saw as JSON.
PROBE = """
import json, os
os.environ["TORCHINDUCTOR_CACHE_DIR"] = {cache!r}
{setting}
import torch
import keras_snnkd
from keras_snnkd.backend import torch_isa_probe
from torch._inductor import cpu_vec_isa
before = torch_isa_probe.probe_thread() is None
torch_isa_probe.configure()  # a second registration changes nothing
f = torch.compile(lambda x: x + 1, backend="eager")
g = torch.compile(lambda x: x * 2, backend="eager")
assert float(f(torch.ones(())) + g(torch.ones(()))) == 4.0
thread = torch_isa_probe.probe_thread()
if thread is not None:
    thread.join()
print(json.dumps({{
    "idle_before_compiling": before,
    "started": thread is not None,
    "callbacks": torch._dynamo.callback_handler.start_callbacks.count(torch_isa_probe._start),
    "probed": cpu_vec_isa.valid_vec_isa_list.cache_info().currsize,
    "isas": [str(isa) for isa in cpu_vec_isa.valid_vec_isa_list()],
}}))
"""


def probe_report(cache, opt_out):
    setting = f"os.environ[{torch_isa_probe.OPT_OUT!r}] = '0'" if opt_out else ""
    out = run_python(PROBE.format(cache=str(cache), setting=setting), "torch")
    return json.loads(out.strip().splitlines()[-1])


@TORCH_COMPILE_ONLY
def test_the_first_compile_probes_once_in_the_background_what_inductor_would(tmp_path):
    probed = probe_report(tmp_path, opt_out=False)
    assert probed["idle_before_compiling"] and probed["started"]
    assert probed["callbacks"] == 1
    assert probed["probed"] == 1  # filled before Inductor was ever called
    # Opted out, nothing fills the list before Inductor asks (here: the report
    # itself, in the main thread, with the probe's compiled files cached): the
    # check above can fail, and both processes find the same instruction sets.
    opted_out = probe_report(tmp_path, opt_out=True)
    assert not opted_out["started"] and opted_out["callbacks"] == 0
    assert opted_out["probed"] == 0
    assert opted_out["isas"] == probed["isas"]
