"""MkDocs hook: results pages built from the JSON and PNG files the examples and
benchmarks write, so the published figures are always the files' figures.

A page asks for generated content with one directive per line:

- ``<!-- snnkd:table PATH -->``: a Markdown table of a results JSON file (the
  table's layout is chosen by the file's name; other files get a key/value table);
- ``<!-- snnkd:image PATH caption -->``: a results PNG, published with the site;
- ``<!-- snnkd:diff OLD.py NEW.py -->``: the unified diff of two scripts' code
  (module docstrings left out).

``PATH`` is relative to the repository root. A file that does not exist yet is
shown as a note naming the command that produces it, so the build never fails on
results that were not produced (and never shows stale numbers). Every PNG under
``examples/results`` and ``benchmarks/results`` is copied to ``results/files/``.
"""

import difflib
import json
import os
import posixpath
import re

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_FOLDERS = ("examples/results", "benchmarks/results")
SITE_FOLDER = "results/files"
DIRECTIVE = re.compile(r"^<!-- snnkd:(table|image|diff) (.+?) -->$", re.M)


# -- formatting --------------------------------------------------------------------
def pct(value):
    return "–" if value is None else f"{100 * value:.1f} %"


def num(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine(data):
    """The run's machine as the benchmarks record it (``throughput.machine``): its cores,
    and its CPU's model and vector extensions where the file has them."""
    record = data["machine"]
    text = f"{record['cpus']} CPU cores"
    if "cpu" in record:
        described = filter(None, [record["cpu"], ", ".join(record["cpu_flags"])])
        text += f" ({'; '.join(described)})"
    return text


def mean_std(entry):
    """``{"mean", "std", "runs"}`` of test accuracies as ``97.1 ± 0.2 % (n=3)``."""
    return (f"{100 * entry['mean']:.1f} ± {100 * entry['std']:.1f} % "
            f"(n={len(entry['runs'])})")


# -- one builder per results file ---------------------------------------------------
def demo_backends(data):
    runs = data["runs"]
    rows = []
    for backend, run in runs.items():
        cost, micro = run["cost"], run["tflite_micro"]
        rows.append([backend, pct(run["teacher"]["test_accuracy"]),
                     pct(run["student"]["test_accuracy"]), pct(micro["test_accuracy"]),
                     pct(micro["agreement"]), f"{num(cost['student_uj'])} / "
                     f"{num(cost['teacher_uj'])} µJ ({num(cost['ratio_to_teacher'])})",
                     num(cost["ratio_to_ann_twin"]), f"{run['tflite']['bytes'] / 1024:.1f} KiB",
                     f"{run['process_seconds']:.0f} s"])
    first = next(iter(runs.values()))
    notes = (f"\n\n{first['data']['train']:,} training / {first['data']['test']:,} test "
             f"images; teacher {first['teacher']['model']} ({first['teacher']['params']:,} "
             f"parameters, {first['teacher']['epochs']} epochs), student "
             f"{first['student']['model']} ({first['student']['params']:,} parameters, "
             f"T={first['student']['timesteps']}, {first['student']['epochs']} epochs of "
             f"{first['student']['distillation']}); energy profile {first['cost']['profile']}; "
             f"{data['cpu_count']} CPU cores, {data['date']}. Time: the whole `snnkd demo` "
             "process, start-up included.")
    return table(["backend", "teacher", "student (float)", "student int8 in TFLM",
                  "int8 vs float top-1", "energy student / teacher", "vs its ANN twin",
                  "int8 file", "time"], rows) + notes


def distill_example(data):
    rows = [[name, mean_std(entry)] for name, entry in data["table"].items()]
    return table(["model", "test accuracy"], rows)


def distill_overhead(data):
    rows = []
    for backend, run in data["results"].items():
        seconds = run["median_seconds"]
        rows.append([backend, f"{seconds['plain']:.2f}", f"{seconds['live']:.2f}",
                     f"{seconds['cached']:.2f}", num(run["ratio_live_to_plain"]),
                     num(run["ratio_cached_to_plain"]), f"{run['cache_build_seconds']:.2f}"])
    return (f"Student {data['student']}, teacher {data['teacher']}, loss {data['loss']}, "
            f"batch {data['batch_size']}; {data['machine']['cpu_count']} CPU cores, "
            f"{data['date']}.\n\n"
            + table(["backend", "plain fit (s/epoch)", "live teacher", "cached teacher",
                     "live / plain", "cached / plain", "cache build (s)"], rows))


def distill_noise(data):
    rows = []
    for kind, models in data["table"].items():
        for model, entries in models.items():
            rows.append([kind, model] + [f"{e['level']}: {100 * e['mean']:.1f} %"
                                          for e in entries])
    width = max(len(row) for row in rows)
    return table(["noise", "model"] + ["level: accuracy"] * (width - 2),
                 [row + [""] * (width - len(row)) for row in rows])


def convert_mnist(data):
    steps = [str(t) for t in data["timesteps"]]
    rows = []
    for name, model in data["models"].items():
        for neuron in ("if", "lif"):
            rows.append([f"{name} → {neuron.upper()}", pct(model["ann_accuracy"])]
                        + [pct(model[neuron][t]) for t in steps])
    return table(["ANN → SNN", "ANN"] + [f"T={t}" for t in steps], rows)


def convert_levels(data):
    rows = [[levels, num(s["mean_gap_points"]), num(s["max_gap_points"])]
            for levels, s in data["summary"].items()]
    return table(["StepReLU levels L", "mean gap ANN − SNN at T = L (points)",
                  "max gap (points)"], rows)


def convert_distill(data):
    rows = []
    for name, model in data["models"].items():
        for t, entry in model.items():
            if t == "ann_accuracy" or not isinstance(entry, dict):
                continue
            rows.append([name, pct(model["ann_accuracy"]), t, pct(entry["converted"]),
                         pct(entry["fine_tuned_ce"]), pct(entry["fine_tuned_kd"])])
    return table(["ANN", "ANN accuracy", "T", "converted", "fine-tuned (labels)",
                  "fine-tuned (KD)"], rows)


def cost_vs_peer(data):
    os.environ.setdefault("KERAS_BACKEND", "jax")  # the quickest to start; no model runs
    from keras_snnkd.cost import CostReport

    accuracy = data["accuracy"]
    head = (f"Reference SNN (T={data['config']['timesteps']}) test accuracy "
            f"{pct(accuracy['snn'])}, its ANN {pct(accuracy['ann'])}.\n\n")
    return head + CostReport.from_dict(data["report"]).to_markdown()


def export_table(data):
    rows = []
    for model in data["models"]:
        micro, vela = model["tflm_int8"], model["vela_int8"]
        rows.append([model["model"], f"{model['params']:,}", pct(model["float_keras_accuracy"]),
                     f"{model['bytes']['float'] / 1024:.1f} / {model['bytes']['int8'] / 1024:.1f}"
                     " KiB", pct(model["litert_int8"]["agreement"]), pct(micro["agreement"]),
                     pct(micro["accuracy"]), f"{micro['arena_bytes'] / 1024:.1f} KiB",
                     f"{vela['npu_ops']}/{vela['npu_ops'] + vela['cpu_ops']}"])
    return table(["model", "params", "float accuracy", "float / int8 file",
                  "int8 agreement LiteRT", "int8 agreement TFLM", "int8 accuracy TFLM",
                  "TFLM arena", "Ethos-U55 NPU ops"], rows) + f"\n\n{data['note']}"


def _int8_cells(row):
    vela = row["vela"]
    return [pct(row["tflm"]["accuracy"]), pct(row["tflm"]["agreement"]),
            f"{row['tflite_bytes']:,}", f"{vela['flash_bytes']:,}", f"{vela['cycles']:,}"]


def prune_table(data):
    int8 = ["int8 accuracy (TFLM)", "int8 vs float top-1 (TFLM)", ".tflite bytes",
            "Vela flash bytes", "Vela cycles"]
    rows = [[pct(row["sparsity"]), pct(row["kernel_sparsity"]), pct(row["float_accuracy"]),
             *_int8_cells(row)] for row in data["rows"]]
    clustered = data["clustered"]
    rows.append([f"{clustered['clusters_per_kernel']} clusters per kernel, no fine-tuning",
                 "–", pct(clustered["float_accuracy"]), *_int8_cells(clustered)])
    qat = []
    for model, runs in data["qat"].items():
        for kind, label in (("ptq_int8", "post-training int8"),
                            ("keras_weight_qat_int8", "quantization_aware_finetune, 1 epoch"),
                            ("tfmot_qat_int8", "to_tflite(quantize='qat'), 1 epoch")):
            run = runs[kind]
            qat.append([model, label, pct(runs["float_accuracy"]), pct(run["tflm"]["accuracy"]),
                        pct(run["tflm"]["agreement"]), f"{run['seconds']:.0f} s"])
    return (f"{data['model']}, {data['params']:,} parameters, {data['prune_epochs']} pruning "
            f"epochs per row, {data['test_images']:,} test images, Vela {data['accelerator']}; "
            f"{data['cpu_count']} CPU cores, {data['date']}.\n\n"
            + table(["target sparsity", "fewest zeros in a kernel", "float accuracy",
                     *int8], rows)
            + "\n\nQuantization-aware training vs post-training int8 (agreement: int8 in TFLM "
              "against the float model before any fine-tuning):\n\n"
            + table(["model", "int8 path", "float accuracy", "int8 accuracy (TFLM)",
                     "int8 vs float top-1", "time"], qat))


def compare_backends(data):
    rows = []
    for backend, run in data["results"].items():
        loads = ", ".join(f"{other}: {pct(v['top1_agreement'])}, max |Δ| "
                          f"{num(v['max_abs_logit_difference'])}"
                          for other, v in run["loads_files_saved_under"].items()) or "–"
        rows.append([backend, pct(run["test_accuracy"]), f"{run['first_epoch_seconds']:.1f}",
                     num(run["later_epoch_seconds"]), f"{run['predict_images_per_second']:.0f}",
                     loads])
    return (f"{data['model']}, {data['epochs']} epochs.\n\n"
            + table(["backend", "test accuracy", "first epoch (s)", "later epochs (s)",
                     "inference (images/s)", "loads the files saved under"], rows))


def export_microcontroller(data):
    micro, check, npu = data["tflite_micro"], data["c_array_check"], data["ethos_u55"]
    rows = [["model", f"{data['model']}, {data['params']:,} parameters"],
            ["float Keras accuracy", pct(data["float_accuracy"])],
            ["int8 accuracy in TFLite Micro", pct(micro["accuracy"])],
            ["top-1 agreement int8 vs float", pct(micro["agreement_with_float"])],
            ["int8 file", f"{data['tflite_bytes']:,} bytes"],
            ["TFLite Micro tensor arena", f"{micro['arena_bytes']:,} bytes"],
            ["op resolver needs", ", ".join(data["op_resolver"])],
            ["C array compiled and byte-identical",
             "yes" if check.get("same_bytes") and check.get("aligned_16") else
             check.get("reason", "no")],
            ["Ethos-U55 NPU operators", f"{npu['npu_ops']}/{npu['npu_ops'] + npu['cpu_ops']}"]]
    return table(["", ""], rows)


def _memory(memory):
    return f"{memory['peak_rss_mb']:.0f} ({memory['training_rss_mb']:.0f})" if memory else "–"


def _jit_compile(results):
    """The ``jit_compile`` the Keras systems ran with, and what Keras made of ``"auto"``."""
    asked = results[0]["jit_compile"]
    if asked != "auto" or "jit_compile_resolved" not in results[0]:
        return f"`jit_compile={asked}`"
    resolved = {True: [], False: []}
    for r in results:
        resolved[r["jit_compile_resolved"]].append(r["backend"])
    parts = [f"{value} on {' and '.join(names)}" for value, names in resolved.items() if names]
    return f"`jit_compile=\"auto\"` (Keras's default; it resolved to {', '.join(parts)})"


def speed_targets(targets):
    """The speed targets a throughput run checked (``benchmarks/speed_targets.py``): each
    one's wanted figure, the deciding backend's figure and every backend's."""
    symbol = {">=": "≥", "<=": "≤"}
    rows = [[t["target"], f"{symbol[t['compare']]} {t['wanted']:g}", f"{t['measured']:.2f} ({t['backend']})",
             ", ".join(f"{name} {value:.2f}" for name, value in t["values"].items()),
             "yes" if t["met"] else "**no**"] for t in targets]
    return table(["speed target", "wanted", "measured (deciding backend)", "every backend",
                  "met"], rows)


def throughput(data):
    results = data["results"]
    first = results[0]
    alone = any(r.get("single_backend_install") for r in results)
    rows = [[f"keras_snnkd, {r['backend']}", f"{r['snn_train_samples_per_s']:.0f}",
             f"{r['speedup_vs_spikingjelly']:.2f}", f"{r['speedup_vs_best_peer']:.2f}",
             f"{r['limit_ratio']:.2f}", f"{r['snn_infer_samples_per_s']:.0f}", _memory(r)]
            + ([_memory(r.get("single_backend_install"))] if alone else []) for r in results]
    for peer, rate in first["peers"].items():
        memory = _memory(first["peers_memory"][peer])
        rows.append([peer, f"{rate:.0f}", num(rate / first["peers"]["spikingjelly"]),
                     num(rate / max(first["peers"].values())), "–",
                     f"{first['peers_infer'][peer]:.0f}", memory] + ([memory] if alone else []))
    notes = (f"\n\nT = {first['T']}, batch {first['batch']}, training step = forward + "
             f"backward + Adam; Keras systems compiled with {_jit_compile(results)}, "
             f"{first['precision']}; peers in eager PyTorch as their "
             "tutorials run them. Limit ratio = SNN training samples/s × T / the same network "
             "as an ANN trained at batch B·T. Memory: peak resident set of the worker process "
             "(in brackets: growth after the imports, i.e. what training itself added)"
             + ("; backend alone: the same with keras_snnkd installed with one backend "
                "(`pip install keras_snnkd[<backend>]`; the peers' column repeats their own "
                "environment's). " if alone else ". ") +
             f"{machine(data)}, all systems in one run, interleaved.")
    flags = [f"{r['backend']}: `XLA_FLAGS={r['xla_flags']}`" for r in results if r.get("xla_flags")]
    if flags:
        notes += (" Set by `import keras_snnkd` (`keras_snnkd.backend.xla_cpu`): "
                  + "; ".join(flags) + ".")
    out = table(["system", "train samples/s", "× SpikingJelly", "× best peer", "limit ratio",
                 "inference samples/s", "peak RSS MB (training)"]
                + (["peak RSS MB, backend alone (training)"] if alone else []), rows) + notes
    if data.get("targets"):
        out += "\n\n" + speed_targets(data["targets"])
    if data.get("sweep"):
        # Runs before the sweep timed reruns have no such column.
        reruns = all("rerun_first_step_s" in r for r in data["sweep"])
        sweep = [[r["backend"], r["T"], f"{r['first_step_s']:.1f}"]
                 + ([f"{r['rerun_first_step_s']:.1f}"] if reruns else [])
                 + [f"{r['second_step_s']:.1f}", f"{r['ann_bt_first_step_s']:.1f}",
                    f"{1000 * r['step_s']:.0f}", f"{1000 * r['T4_step_s']:.0f}",
                    f"{r['step_vs_T4']:.2f}",
                    f"{1000 * r['ann_bt_step_s']:.0f}", f"{r['limit_ratio']:.2f}"]
                 for r in data["sweep"]]
        out += "\n\n" + table(["backend", "T", "first step (s)"]
                               + (["first step, rerun (s)"] if reruns else [])
                               + ["second step (s)", "ANN at B·T first step (s)",
                                  "step (ms)", "T = 4 step (ms), interleaved",
                                  "step / T = 4 step", "ANN at B·T step (ms)",
                                  "limit ratio"], sweep)
    if data.get("compiled_peers"):
        compiled = [[r["system"], r["T"], f"{r['first_step_s']:.1f}",
                     f"{r['second_step_s']:.1f}", f"{1000 * r['step_s']:.0f}",
                     f"{r['step_vs_keras_snnkd']:.2f}", f"{r['peak_rss_mb']:.0f}"]
                    for r in data["compiled_peers"]]
        out += "\n\n" + table(["all under `torch.compile`", "T", "first step (s)",
                                "second step (s)", "step (ms)", "step / keras_snnkd's",
                                "peak RSS MB"], compiled)
    return out


def _accuracy_cell(runs):
    """Test accuracies of one configuration's training runs, mean and each run."""
    if not runs:
        return "–"
    values = [100 * r["test_accuracy"] for r in runs]
    each = ", ".join(f"{v:.1f}" for v in values)
    return f"{sum(values) / len(values):.1f} % ({each})"


def mixed_precision(data):
    accuracy = {}
    for r in data["accuracy"]:
        accuracy.setdefault(("snn:" + r["backend"], r["precision"], r["jit_compile"]), []).append(r)
    rows = []
    for r in data["speed"]:
        system = (f"keras_snnkd, {r['system'][4:]}" if r["system"].startswith("snn:")
                  else r["system"])
        compiled = "–" if r["jit_compile"] is None else r["jit_compile"]
        rows.append([system, r["precision"], compiled, f"{r['train_samples_per_s']:.0f}",
                     f"{r['train_vs_float32']:.2f}", f"{r['infer_samples_per_s']:.0f}",
                     f"{r['infer_vs_float32']:.2f}", f"{r['peak_rss_mb']:.0f}",
                     _accuracy_cell(accuracy.get((r["system"], r["precision"],
                                                  r["jit_compile"])))])
    notes = (f"\n\nT = {data['T']}, batch {data['batch']}; × float32: against the same system "
             "in float32 with the same `jit_compile`, in the same run, interleaved. "
             "mixed_bfloat16 is Keras's dtype policy (layers compute in bfloat16, weights and "
             "optimizer stay float32); the peers run eagerly, under `torch.autocast` to "
             f"bfloat16. Test accuracy: the reference network trained {data['epochs']} epochs "
             "on the MNIST subset's 4,000 training images and tested on its 1,000 test images, "
             "mean of the runs (each run's in brackets, one seed each, the same seeds in both "
             f"precisions). {machine(data)}.")
    return table(["system", "precision", "`jit_compile`", "train samples/s", "× float32",
                  "inference samples/s", "× float32", "peak RSS MB", "test accuracy"],
                 rows) + notes


def torch_memory_budget(data):
    rows = [[r["system"], r["T"], f"{r['first_step_s']:.1f}", f"{1000 * r['step_s']:.0f}",
             f"{r['step_vs_default']:.2f}", f"{r['train_samples_per_s']:.0f}",
             _memory(r), f"{r['peak_vs_spikingjelly']:.2f}"] for r in data["rows"]]
    where = ("with PyTorch alone installed (`pip install keras_snnkd[torch]`)"
             if data["single_backend_install"] else "in the benchmark's environment")
    notes = (f"\n\nBatch {data['batch']}, training step = forward + backward + Adam; "
             "keras_snnkd compiled (`jit_compile=True`) with "
             "`torch._functorch.config.activation_memory_budget` as named (1 is PyTorch's "
             f"default), {where}; the peers in eager PyTorch. × default: step time against "
             "the default budget's at the same T. Memory: peak resident set of the worker "
             "(in brackets: growth after the imports). First steps with cold compiler caches. "
             f"{machine(data)}; per T, all systems interleaved in one run.")
    return table(["system", "T", "first step (s)", "step (ms)", "× default", "train samples/s",
                  "peak RSS MB (training)", "peak / SpikingJelly's"], rows) + notes


def keras_scripts(data):
    return table(["script", "test accuracy"], [[data["script"], pct(data["test_accuracy"])]])


def generic(data):
    rows = [[key, value] for key, value in data.items() if not isinstance(value, (dict, list))]
    return table(["key", "value"], rows)


BUILDERS = {
    "demo_backends": demo_backends,
    "distill_ann_to_snn": distill_example,
    "distill_snn_to_snn": distill_example,
    "distill_multistage": distill_example,
    "distill_noise": distill_noise,
    "distill_overhead": distill_overhead,
    "convert_mnist": convert_mnist,
    "convert_levels": convert_levels,
    "convert_distill": convert_distill,
    "cost_vs_peer": cost_vs_peer,
    "export_table": export_table,
    "prune_table": prune_table,
    "compare_backends": compare_backends,
    "throughput": throughput,
    "throughput_keras_defaults": throughput,
    "mixed_precision": mixed_precision,
    "torch_memory_budget": torch_memory_budget,
    "export_microcontroller": export_microcontroller,
    "keras_script_before": keras_scripts,
    "add_distillation_to_keras_script": keras_scripts,
}


# -- directives --------------------------------------------------------------------
def producer(path):
    """The command that writes a results file."""
    stem = os.path.splitext(os.path.basename(path))[0]
    folder = path.split("/")[0]
    return f"python {folder}/{stem}.py"


def missing(path):
    return (f'!!! note "Not produced yet"\n    `{path}` is written by `{producer(path)}`; '
            "run it to see these results here.")


def render_table(path):
    full = os.path.join(ROOT, path)
    if not os.path.isfile(full):
        return missing(path)
    with open(full) as handle:
        data = json.load(handle)
    stem = os.path.splitext(os.path.basename(path))[0]
    build = BUILDERS.get(stem, generic)
    return build(data) + f"\n\n<small>Generated from `{path}`.</small>"


def render_image(argument, page_uri):
    path, _, caption = argument.partition(" ")
    if not os.path.isfile(os.path.join(ROOT, path)):
        return missing(path)
    target = posixpath.join(SITE_FOLDER, path)
    link = posixpath.relpath(target, posixpath.dirname(page_uri))
    return f"![{caption or os.path.basename(path)}]({link})"


def code_after_docstring(path):
    with open(os.path.join(ROOT, path)) as handle:
        text = handle.read()
    return text[text.index('"""', 3) + 3:].lstrip("\n").splitlines()


def render_diff(argument):
    old, new = argument.split()
    diff = difflib.unified_diff(code_after_docstring(old), code_after_docstring(new),
                                fromfile=old, tofile=new, lineterm="", n=2)
    return "```diff\n" + "\n".join(diff) + "\n```"


def render(markdown, page_uri):
    """``markdown`` with every directive replaced by its generated content."""
    def replace(match):
        kind, argument = match.groups()
        if kind == "table":
            return render_table(argument.strip())
        if kind == "image":
            return render_image(argument.strip(), page_uri)
        return render_diff(argument.strip())

    return DIRECTIVE.sub(replace, markdown)


# -- MkDocs events -----------------------------------------------------------------
def on_files(files, config):
    for folder in RESULT_FOLDERS:
        source = os.path.join(ROOT, folder)
        if not os.path.isdir(source):
            continue
        for name in sorted(os.listdir(source)):
            if name.endswith(".png"):
                uri = posixpath.join(SITE_FOLDER, folder, name)
                files.append(File.generated(config, uri, abs_src_path=os.path.join(source, name)))
    return files


def on_page_markdown(markdown, page, config, files):
    return render(markdown, page.file.src_uri)
