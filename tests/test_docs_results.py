"""The docs' generated content: results tables come from the JSON files, every results
file is published, the example diff is the scripts' diff, doctests render as code."""

import importlib.util
import json
import pathlib
import re

import pytest

from conftest import ROOT

DOCS = pathlib.Path(ROOT) / "docs"
HOOKS = pathlib.Path(ROOT) / "docs_hooks"


def load(name, folder=HOOKS):
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_pages = load("results_pages")
griffe_examples = load("griffe_examples")
PAGES = sorted(DOCS.rglob("*.md"))


def directives():
    return [(page, *match.groups()) for page in PAGES
            for match in results_pages.DIRECTIVE.finditer(page.read_text())]


@pytest.mark.parametrize("page", [p for p in PAGES if results_pages.DIRECTIVE.search(
    p.read_text())], ids=lambda p: str(p.relative_to(DOCS)))
def test_every_directive_renders(page):
    uri = page.relative_to(DOCS).as_posix()
    rendered = results_pages.render(page.read_text(), uri)
    assert "<!-- snnkd:" not in rendered
    for _, kind, argument in [d for d in directives() if d[0] == page]:
        path = argument.split()[0]
        exists = (pathlib.Path(ROOT) / path).is_file()
        if kind == "table":
            expected = f"Generated from `{path}`" if exists else "Not produced yet"
            assert expected in rendered


def test_every_results_file_is_published():
    published = {argument.split()[0] for _, kind, argument in directives()
                 if kind in ("table", "image")}
    files = {path.relative_to(ROOT).as_posix()
             for folder in results_pages.RESULT_FOLDERS
             for path in pathlib.Path(ROOT, folder).glob("*")
             if path.suffix in (".json", ".png") and "_fast" not in path.stem}
    assert not files - published, f"results files on no docs page: {sorted(files - published)}"


def test_tables_show_the_numbers_in_the_files():
    path = "examples/results/convert_mnist.json"
    data = json.loads((pathlib.Path(ROOT) / path).read_text())
    rendered = results_pages.render_table(path)
    step = data["models"]["step_relu"]
    row = next(line for line in rendered.splitlines() if line.startswith("| step_relu → IF"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == results_pages.pct(step["ann_accuracy"])
    assert cells[2:] == [results_pages.pct(step["if"][str(t)]) for t in data["timesteps"]]


def test_a_missing_results_file_names_its_producer():
    rendered = results_pages.render_table("examples/results/not_there.json")
    assert "Not produced yet" in rendered and "python examples/not_there.py" in rendered
    assert "Not produced yet" in results_pages.render_image("benchmarks/results/x.png cap",
                                                            "results/a.md")


def test_image_links_point_at_the_published_copy():
    link = results_pages.render_image("examples/results/convert_mnist.png T sweep",
                                      "results/conversion.md")
    assert link == "![T sweep](files/examples/results/convert_mnist.png)"


def test_the_example_diff_is_the_diff_of_the_scripts():
    rendered = results_pages.render_diff("examples/keras_script_before.py "
                                         "examples/add_distillation_to_keras_script.py")
    assert rendered.startswith("```diff") and rendered.endswith("```")
    added = [line for line in rendered.splitlines()
             if line.startswith("+") and not line.startswith("+++")]
    assert "+from keras_snnkd.distill import Distiller, ResponseKD" in added
    assert not any('"""' in line for line in added)  # docstrings are left out


def test_example_sections_become_indented_examples_sections():
    docstring = "Adds.\n\nArgs:\n    x: a number.\n\nExample:\n>>> 1 + 1\n2\n\n>>> 3\n3"
    converted = griffe_examples.as_examples_section(docstring)
    assert converted == ("Adds.\n\nArgs:\n    x: a number.\n\nExamples:\n    >>> 1 + 1\n"
                         "    2\n\n    >>> 3\n    3")
    assert griffe_examples.as_examples_section("No example.") == "No example."
    assert re.search(r"Examples:\n {4}>>>", converted)


def test_the_speed_tables_say_how_each_backend_compiled():
    defaults = results_pages.render_table("benchmarks/results/throughput_keras_defaults.json")
    data = json.loads((pathlib.Path(ROOT) / "benchmarks/results/throughput_keras_defaults.json")
                      .read_text())
    compiled = [r["backend"] for r in data["results"] if r["jit_compile_resolved"]]
    eager = [r["backend"] for r in data["results"] if not r["jit_compile_resolved"]]
    assert compiled and eager  # auto compiles some backends and not others on a CPU
    assert (f"`jit_compile=\"auto\"` (Keras's default; it resolved to True on "
            f"{' and '.join(compiled)}, False on {' and '.join(eager)})") in defaults
    assert "`jit_compile=true`" in results_pages.render_table("benchmarks/results/throughput.json")


def test_the_mixed_precision_table_shows_speed_and_accuracy_of_each_configuration():
    path = "benchmarks/results/mixed_precision.json"
    data = json.loads((pathlib.Path(ROOT) / path).read_text())
    lines = results_pages.render_table(path).splitlines()
    for r in data["speed"]:
        name = r["system"].replace("snn:", "keras_snnkd, ")
        compiled = r["jit_compile"] or "–"
        row = next(line for line in lines
                   if line.startswith(f"| {name} | {r['precision']} | {compiled} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3:5] == [f"{r['train_samples_per_s']:.0f}", f"{r['train_vs_float32']:.2f}"]
        runs = [a["test_accuracy"] for a in data["accuracy"]
                if "snn:" + a["backend"] == r["system"] and a["precision"] == r["precision"]
                and a["jit_compile"] == r["jit_compile"]]
        if r["system"].startswith("snn:"):
            assert runs and cells[8].startswith(f"{100 * sum(runs) / len(runs):.1f} %")
        else:
            assert not runs and cells[8] == "–"

def test_the_speed_page_shows_the_peers_under_torch_compile():
    path = "benchmarks/results/throughput.json"
    data = json.loads((pathlib.Path(ROOT) / path).read_text())
    lines = results_pages.render_table(path).splitlines()
    assert {r["system"] for r in data["compiled_peers"]} == {"keras_snnkd", "snntorch",
                                                             "spikingjelly"}
    for r in data["compiled_peers"]:
        row = next(line for line in lines if line.startswith(f"| {r['system']} | {r['T']} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[2:6] == [f"{r['first_step_s']:.1f}", f"{r['second_step_s']:.1f}",
                              f"{1000 * r['step_s']:.0f}", f"{r['step_vs_keras_snnkd']:.2f}"]


def sweep_cells(path):
    data = json.loads((pathlib.Path(ROOT) / path).read_text())
    lines = results_pages.render_table(path).splitlines()
    assert {r["T"] for r in data["sweep"]} == {1, 2, 4, 8, 16, 32}
    for r in data["sweep"]:
        row = next(line for line in lines if line.startswith(f"| {r['backend']} | {r['T']} |"))
        yield r, [cell.strip() for cell in row.strip("|").split("|")]


def test_the_speed_page_sweeps_T_with_first_steps_cold_and_on_a_rerun(tmp_path):
    recorded = "benchmarks/results/throughput.json"
    for r, cells in sweep_cells(recorded):
        if "rerun_first_step_s" not in r:  # recorded before the sweep timed reruns
            assert cells[2:4] == [f"{r['first_step_s']:.1f}", f"{r['second_step_s']:.1f}"]
    data = json.loads((pathlib.Path(ROOT) / recorded).read_text())
    for i, r in enumerate(data["sweep"]):
        r["rerun_first_step_s"] = 0.25 + i
    (tmp_path / "throughput.json").write_text(json.dumps(data))
    for r, cells in sweep_cells(str(tmp_path / "throughput.json")):
        assert cells[2:5] == [f"{r['first_step_s']:.1f}", f"{r['rerun_first_step_s']:.1f}",
                              f"{r['second_step_s']:.1f}"]


def test_the_memory_budget_table_shows_each_system_at_each_T():
    path = "benchmarks/results/torch_memory_budget.json"
    data = json.loads((pathlib.Path(ROOT) / path).read_text())
    lines = results_pages.render_table(path).splitlines()
    systems = {r["system"] for r in data["rows"]}
    assert {"keras_snnkd, budget 1", "snntorch", "spikingjelly"} <= systems
    assert any(r["activation_memory_budget"] not in (None, 1.0) for r in data["rows"])
    for r in data["rows"]:
        row = next(line for line in lines if line.startswith(f"| {r['system']} | {r['T']} |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[3:5] == [f"{1000 * r['step_s']:.0f}", f"{r['step_vs_default']:.2f}"]
        assert cells[6:] == [f"{r['peak_rss_mb']:.0f} ({r['training_rss_mb']:.0f})",
                             f"{r['peak_vs_spikingjelly']:.2f}"]


def test_the_notes_name_the_cpu_where_the_file_records_it():
    record = {"cpus": 2, "cpu": "Some CPU", "cpu_flags": ["avx2", "amx_bf16"]}
    assert results_pages.machine({"machine": record}) == "2 CPU cores (Some CPU; avx2, amx_bf16)"
    record["cpu_flags"] = []
    assert results_pages.machine({"machine": record}) == "2 CPU cores (Some CPU)"
    assert results_pages.machine({"machine": {"cpus": 2}}) == "2 CPU cores"  # older files


def test_the_benchmarks_record_the_machines_cpu():
    throughput = load("throughput", pathlib.Path(ROOT) / "benchmarks")
    record = throughput.machine()
    assert record["cpus"] >= 1 and record["cpu"]
    assert set(record["cpu_flags"]) <= set(throughput.CPU_FLAGS)
