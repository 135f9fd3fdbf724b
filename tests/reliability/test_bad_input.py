"""Bad input: malformed presets, `--set` overrides and search spaces. Each must end in exit code 2
and ONE stderr line, `kerashp: error: <file or --set>: <key> = <value>: <what is allowed>`, with
no traceback.

1. A corpus of hand-written bad inputs, each run through the real `kerashp` command in a
   subprocess (`presets validate FILE`, `presets show NAME --set ...`, `tune --preset FILE`),
   asserting on the pieces of its one line. The documents of tests/config/test_config.py's
   BAD_DOCUMENTS, checked there in-process, join the corpus here through the CLI.
2. Hypothesis fuzzing, in-process through the functions the CLI calls (`load_preset`, then
   `check_search` as `presets validate` does, then the TOML `presets show` prints): random
   documents built from the schema's real section and key names with random values, random
   `extends` and random `--set` expressions; mutated real presets; raw bytes and mutated TOML
   text. Anything but success or a one-line `UserError` fails.

None of these commands imports torch, so a subprocess answers in about 0.1 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomli_w
from conftest import BAD_DOCUMENTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kerashp.config import available_presets, load_preset, schema
from kerashp.config.fields import Bool, Choice, DataSource, Float, FractionOrCount, Int, Numbers, Str
from kerashp.config.model_table import MODEL_OPTIONS, PerStage
from kerashp.errors import UserError
from kerashp.search.space import check_search
from kerashp.text import toml_value

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
LENET5_AUG = (REPO / "presets" / "lenet5_aug.toml").read_bytes()


# ------------------------------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class Case:
    """One bad input: the files it needs, the command line, and what its one error line must say.

    `{dir}` in argv, `where` and fragments stands for the directory holding the files (also on
    $KERASHP_PRESET_PATH, so presets there extend each other by name). The line must start with
    `kerashp: error: ` + `where` (the file or `--set`), and hold every fragment (key, value, what
    is allowed)."""

    id: str
    argv: tuple[str, ...]
    where: str
    fragments: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)


def doc(id: str, text: str | bytes, *fragments: str, where: str | None = None, **files: str | bytes) -> Case:
    """`kerashp presets validate {dir}/<id>.toml` for a preset file holding `text`."""
    return Case(id, ("presets", "validate", f"{{dir}}/{id}.toml"), where or f"{{dir}}/{id}.toml: ", fragments,
                {f"{id}.toml": text, **{f"{name}.toml": body for name, body in files.items()}})


def override(id: str, expression: str, *fragments: str, preset: str = "lenet5_aug", where: str = "--set: ") -> Case:
    """`kerashp presets show <preset> --set <expression>`."""
    return Case(id, ("presets", "show", preset, "--set", expression), where, fragments)


def space(id: str, entries: str, *fragments: str, search: str = "", tail: str = "") -> Case:
    """A preset extending lenet5_aug with a [search] table (`search`), a [search.space] (`entries`)
    and any further tables (`tail`)."""
    return doc(id, f'extends = "lenet5_aug"\n[search]\n{search}\n[search.space]\n{entries}\n{tail}', *fragments)


LR = '"optimizer.learning_rate"'
OPTIMIZER_NAMES = "allowed: sgd, adam, adamw, adagrad, rmsprop"

CORPUS: list[Case] = [
    # --- TOML that does not parse
    doc("syntax_unclosed_string", 'description = "LeNet\n', "TOML syntax error", "line 1"),
    doc("syntax_duplicate_key", "[train]\nepochs = 1\nepochs = 2\n", "TOML syntax error", "line 3"),
    doc("syntax_duplicate_table", "[train]\nepochs = 1\n[train]\nbatch_size = 2\n", "TOML syntax error"),
    doc("syntax_missing_value", "seed =\n", "TOML syntax error", "Invalid value"),
    doc("syntax_bare_word_value", "[optimizer]\nname = sgd\n", "TOML syntax error", "line 2"),
    doc("syntax_not_utf8", b"seed = 1\ndescription = \"caf\xe9\"\n", "TOML syntax error", "not UTF-8", "0xe9"),
    doc("syntax_binary_junk", b"\x00\x01PK\x03\x04\xff", "TOML syntax error"),
    doc("syntax_integer_too_long", "seed = " + "9" * 5000 + "\n", "TOML syntax error", "4300 digits"),
    # --- unknown sections and keys
    doc("unknown_top_level_key", "epochs = 3\n", "epochs", "unknown section or key", "allowed: description, study, seed, extends, model"),
    doc("unknown_section_spelling", '[optimiser]\nname = "sgd"\n', "optimiser", "unknown section or key"),
    doc("unknown_key_in_data", "[data]\nbatch_size = 64\n", "data.batch_size", "unknown key", "allowed: source, validation"),
    doc("unknown_key_suggests", "[train]\nepoch = 3\n", "train.epoch", "did you mean epochs?"),
    doc("unknown_transform_key", '[augment]\ntransforms = [{ name = "pad_crop", pad = 4 }]\n',
        "augment.transforms.pad_crop.pad", "did you mean padding?", "allowed: p, padding"),
    doc("unknown_model_option", '[model]\nname = "resnet"\nbatch_norm = true\n',
        "model.batch_norm", "unknown key", "allowed: stages, blocks"),
    doc("unknown_search_key", "[search]\ntrials = 3\n", "search.trials", "unknown key", "max_trials"),
    doc("reserved_overrides_table", '[__overrides__]\n"optimizer.learning_rate" = 1\n', "__overrides__", "unknown section or key"),
    doc("unknown_key_with_escape_char", '[train]\n"epochs\\u001b[31m" = 3\n', "train.epochs\\x1b[31m", "unknown key"),
    # --- wrong types
    doc("section_not_a_table", 'optimizer = "sgd"\n', 'optimizer = "sgd"', "expected a table"),
    doc("model_not_a_table", 'model = "lenet5"\n', 'model = "lenet5"', "expected a table"),
    doc("reference_not_a_table", "reference = 0.67\n", "reference = 0.67", "expected a table of reported figures"),
    doc("learning_rate_as_string", '[optimizer]\nlearning_rate = "0.01"\n', 'optimizer.learning_rate = "0.01"', "expected a number > 0"),
    doc("nesterov_as_string", '[optimizer]\nnesterov = "yes"\n', 'optimizer.nesterov = "yes"', "expected true or false"),
    doc("mean_not_a_list", "[data]\nmean = 0.5\n", "data.mean = 0.5", "a list of 1 or 3 values, each a number in [0, 1]"),
    doc("image_size_fractional", "[data]\nimage_size = [32.5, 32]\n", "data.image_size = [32.5, 32]", "each an integer >= 1"),
    doc("exclude_classes_numbers", "[data]\nexclude_classes = [1, 2]\n", "data.exclude_classes = [1, 2]", "a list of strings"),
    doc("epochs_as_date", "[train]\nepochs = 2024-01-01\n", "train.epochs = 2024-01-01", "an integer >= 1"),
    doc("transforms_not_a_list", '[augment]\ntransforms = { name = "vertical_flip" }\n', "augment.transforms = {...}",
        "expected a list of transform tables"),
    doc("transform_as_string", '[augment]\ntransforms = ["vertical_flip"]\n', 'augment.transforms.0 = "vertical_flip"',
        'expected a table like { name = "horizontal_flip", p = 0.5 }'),
    doc("transform_without_name", "[augment]\nafter = [{ p = 0.5 }]\n", "augment.after.0 = {...}", "expected a table like"),
    doc("transform_name_a_list", '[augment]\ntransforms = [{ name = ["affine"] }]\n', 'augment.transforms.0.name = ["affine"]',
        "unknown transform; allowed: horizontal_flip"),
    doc("extends_not_a_string", "extends = 5\n", "extends = 5", "expected a preset name or path"),
    doc("value_with_newline", '[optimizer]\nname = "sgd\\nadam"\n', 'optimizer.name = "sgd\\nadam"', OPTIMIZER_NAMES),
    # --- out of range
    doc("learning_rate_zero", "[optimizer]\nlearning_rate = 0\n", "optimizer.learning_rate = 0", "a number > 0"),
    doc("learning_rate_nan", "[optimizer]\nlearning_rate = nan\n", "optimizer.learning_rate = nan", "a number > 0"),
    doc("learning_rate_inf", "[optimizer]\nlearning_rate = inf\n", "optimizer.learning_rate = inf", "a number > 0"),
    doc("learning_rate_huge_int", "[optimizer]\nlearning_rate = 1" + "0" * 400 + "\n", "optimizer.learning_rate = 1000",
        "out of range; allowed: a number > 0"),
    doc("probability_negative", '[augment]\ntransforms = [{ name = "horizontal_flip", p = -0.1 }]\n',
        "augment.transforms.horizontal_flip.p = -0.1", "a number in [0, 1]"),
    doc("probability_in_after", '[augment]\nafter = [{ name = "random_erasing", p = 2 }]\n',
        "augment.after.random_erasing.p = 2", "a number in [0, 1]"),
    doc("batch_size_zero", "[train]\nbatch_size = 0\n", "train.batch_size = 0", "an integer >= 1"),
    doc("batch_size_negative", "[train]\nbatch_size = -8\n", "train.batch_size = -8", "an integer >= 1"),
    doc("momentum_negative", "[optimizer]\nmomentum = -0.9\n", "optimizer.momentum = -0.9", "a number >= 0"),
    doc("beta_1_one", "[optimizer]\nbeta_1 = 1.0\n", "optimizer.beta_1 = 1.0", "a number in [0, 1)"),
    doc("label_smoothing_one", "[train]\nlabel_smoothing = 1\n", "train.label_smoothing = 1", "a number in [0, 1)"),
    doc("hue_too_large", '[augment]\ntransforms = [{ name = "color_jitter", hue = 0.6 }]\n',
        "augment.transforms.color_jitter.hue = 0.6", "a number in [0, 0.5]"),
    doc("validation_nan", "[data]\nvalidation = nan\n", "data.validation = nan", "a fraction in [0, 1) or a whole count >= 1"),
    doc("validation_negative", "[data]\nvalidation = -0.1\n", "data.validation = -0.1", "a fraction in [0, 1)"),
    doc("std_zero", "[data]\nstd = [0.0]\n", "data.std = [0.0]", "each a number > 0"),
    doc("mean_std_lengths_differ", "[data]\nmean = [0.5]\nstd = [0.2, 0.2, 0.2]\n", "data.std = [0.2, 0.2, 0.2]",
        "needs as many values as data.mean (1)"),
    doc("image_size_one_value", "[data]\nimage_size = [32]\n", "data.image_size = [32]", "a list of 0 or 2 values"),
    doc("pct_start_one", '[schedule]\nname = "one_cycle"\npct_start = 1.0\n', "schedule.pct_start = 1.0", "a number in (0, 1)"),
    doc("hyperband_factor_one", "[search]\nfactor = 1\n", "search.factor = 1", "an integer >= 2"),
    doc("vgg_depth_unknown", '[model]\nname = "vgg"\ndepth = 17\n', "model.depth = 17", "allowed: 11, 13, 16, 19"),
    # --- unknown names
    doc("optimizer_name_case", '[optimizer]\nname = "Adam"\n', 'optimizer.name = "Adam"', OPTIMIZER_NAMES),
    doc("schedule_unknown", '[schedule]\nname = "cosine_annealing"\n', 'schedule.name = "cosine_annealing"',
        "allowed: constant, step, exponential, cosine, one_cycle, cyclic"),
    doc("model_unknown", '[model]\nname = "resnet18"\n', 'model.name = "resnet18"', "allowed: lenet5, vgg, mobilenet, resnet, mlp"),
    doc("transform_unknown", '[augment]\nafter = [{ name = "hflip" }]\n', 'augment.after.0.name = "hflip"',
        "unknown transform; allowed: horizontal_flip, vertical_flip"),
    doc("augment_order_unknown", '[augment]\norder = "shuffle"\n', 'augment.order = "shuffle"', "allowed: sequence, random, one_of, some_of"),
    doc("normalize_unknown", '[data]\nnormalize = "zscore"\n', 'data.normalize = "zscore"', "allowed: fixed, dataset, imagenet, none"),
    doc("monitor_unknown", '[train]\nmonitor = "accuracy"\n', 'train.monitor = "accuracy"', "allowed: val_accuracy, val_loss"),
    doc("search_algorithm_unknown", '[search]\nalgorithm = "grid_search"\n', 'search.algorithm = "grid_search"',
        "allowed: random, hyperband, bayesian, grid"),
    doc("activation_unknown", '[model]\nactivation = "swish"\n', 'model.activation = "swish"', "allowed: relu, elu, tanh"),
    doc("data_source_scheme", '[data]\nsource = "cifar10"\n', 'data.source = "cifar10"', "expected tfds:NAME"),
    doc("data_source_tfds_name", '[data]\nsource = "tfds:cifar 10"\n', 'data.source = "tfds:cifar 10"', "not a tfds dataset name"),
    doc("data_source_empty_folder", '[data]\nsource = "folder:"\n', 'data.source = "folder:"', "folder after the colon"),
    # --- extends
    doc("cycle_a", 'extends = "cycle_b"\n', "extends", "cycle: cycle_a -> cycle_b -> cycle_c -> cycle_a",
        cycle_b='extends = "cycle_c"\n', cycle_c='extends = "cycle_a"\n'),
    doc("extends_itself", 'extends = "extends_itself"\n', "extends", "cycle: extends_itself -> extends_itself"),
    doc("extends_unknown_name", 'extends = "lenet6"\n', 'extends = "lenet6"', "unknown preset; did you mean lenet5"),
    doc("extends_missing_file", 'extends = "../nowhere/base.toml"\n', 'extends = "../nowhere/base.toml"', "no such preset file"),
    doc("extends_broken_parent", 'extends = "broken_parent"\n', "TOML syntax error", where="{dir}/broken_parent.toml: ",
        broken_parent="[train\nepochs = 1\n"),
    doc("extends_then_model_not_a_table", 'extends = "lenet5"\nmodel = "resnet"\n', 'model = "resnet"', "expected a table"),
    # --- --set
    override("set_without_equals", "optimizer.learning_rate", "optimizer.learning_rate", "expected KEY=VALUE"),
    override("set_without_value", "train.epochs=", "train.epochs=", "expected KEY=VALUE"),
    override("set_without_key", "=3", "=3", "expected KEY=VALUE"),
    override("set_unknown_key", "optimizer.learning_rat=0.1", "optimizer.learning_rat", "did you mean learning_rate?"),
    override("set_unknown_section", "optim.lr=0.1", "optim", "unknown section or key", "allowed: description"),
    override("set_bad_integer", "train.batch_size=big", 'train.batch_size = "big"', "expected an integer >= 1"),
    override("set_fractional_integer", "train.epochs=2.5", "train.epochs = 2.5", "an integer >= 1"),
    override("set_negative_momentum", "optimizer.momentum=-0.5", "optimizer.momentum = -0.5", "a number >= 0"),
    override("set_bool_as_word", "optimizer.nesterov=yes", 'optimizer.nesterov = "yes"', "expected true or false"),
    override("set_unknown_optimizer", "optimizer.name=adamax", 'optimizer.name = "adamax"', OPTIMIZER_NAMES),
    override("set_probability_by_name", "augment.transforms.affine.p=1.5", "augment.transforms.affine.p = 1.5", "a number in [0, 1]"),
    override("set_list_entry_past_end", 'augment.transforms.5={ name = "rotate" }', "augment.transforms.5 = {...}", "no such key"),
    override("set_list_name_absent", "augment.transforms.gaussian_blur.p=0.5", "augment.transforms.gaussian_blur.p = 0.5",
             "no such key"),
    override("set_list_index_not_a_number", "augment.transforms.².p=0.5", "augment.transforms.².p = 0.5", "no such key"),
    override("set_into_a_number", "optimizer.learning_rate.max=1", "optimizer.learning_rate.max = 1", "no such key"),
    override("set_extends", "extends=lenet5", 'extends = "lenet5"', "cannot be overridden"),
    override("set_integer_too_long", "train.epochs=" + "9" * 5000, "train.epochs", "cannot read the value", "4300 digits"),
    override("set_newline_in_value", 'optimizer.name="sgd\nadam"', 'optimizer.name = "\\"sgd\\nadam\\""', OPTIMIZER_NAMES),
    override("set_option_of_another_model", "model.stages=[16, 32]", "model.stages", "unknown key", "allowed: batch_norm"),
    override("set_unknown_preset", "train.epochs=1", "lenet5_agu", "unknown preset; did you mean lenet5_aug", preset="lenet5_agu",
             where="preset: "),
    # --- search spaces (presets validate runs the checks `tune` runs before it starts)
    space("space_empty_int_range", '"train.batch_size" = { type = "int", min = 64, max = 32 }',
          'search.space."train.batch_size"', "empty range: min (64) must be below max (32)"),
    space("space_log_range_negative", f'{LR} = {{ type = "float", min = -1.0, max = 0.1, log = true }}',
          'search.space."optimizer.learning_rate".min = -1.0', "a log range must stay above zero"),
    space("space_unknown_entry_key", '"optimizer.momentum" = { type = "float", min = 0.1, max = 0.9, scale = "log" }',
          'search.space."optimizer.momentum".scale', "unknown key", "allowed: type, min, max, step, log, values, when"),
    space("space_unknown_type", f'{LR} = {{ type = "categorical", values = [0.1] }}',
          'search.space."optimizer.learning_rate".type = "categorical"', "allowed: float, int, choice, bool"),
    space("space_empty_choice_list", '"optimizer.name" = []', 'search.space."optimizer.name".values = []',
          "a choice needs a non-empty list of values"),
    space("space_choice_without_values", '"optimizer.name" = { type = "choice" }', 'search.space."optimizer.name".values',
          "a choice needs a non-empty list of values"),
    space("space_range_without_max", f'{LR} = {{ type = "float", min = 0.1 }}', 'search.space."optimizer.learning_rate"',
          "a float range needs min and max"),
    space("space_key_not_in_preset", '"augment.transforms.rotate.p" = [0.1, 0.2]', 'search.space."augment.transforms.rotate.p"',
          "not a key of this preset"),
    doc("space_not_a_table", 'extends = "lenet5"\n[search]\nspace = [1]\n', "search.space = [1]", "expected a table of preset keys"),
    space("space_entry_a_number", '"train.epochs" = 5', 'search.space."train.epochs" = 5', "expected a table like"),
    space("space_when_not_a_table", '"optimizer.momentum" = { type = "float", min = 0.0, max = 0.9, when = "sgd" }',
          'search.space."optimizer.momentum".when = "sgd"', 'expected a table like { "optimizer.name" = "sgd" }'),
    space("space_unknown_objective", f'{LR} = [0.1, 0.01]', 'search.objective = "f1"', "allowed: val_accuracy, val_loss",
          search='objective = "f1"'),
    space("space_int_range_fractional", '"train.epochs" = { type = "int", min = 1.5, max = 4 }', 'search.space."train.epochs"',
          "an int range needs whole-number min and max"),
    space("space_choices_mixed_types", '"train.batch_size" = [32, "64"]', 'search.space."train.batch_size".values = [32, "64"]',
          "choices must all have one type"),
    space("space_choice_out_of_range", '"train.batch_size" = [0, 32]', 'search.space."train.batch_size"',
          "train.batch_size = 0: out of range; allowed: an integer >= 1"),
    space("space_range_end_out_of_range", '"optimizer.momentum" = { type = "float", min = -0.5, max = 0.9 }',
          'search.space."optimizer.momentum"', "optimizer.momentum = -0.5", "a number >= 0"),
    space("space_when_impossible_value", '"optimizer.momentum" = { type = "float", min = 0.0, max = 0.9, when = { "optimizer.name" = "sgdd" } }',
          'search.space."optimizer.momentum".when', 'optimizer.name = "sgdd"', OPTIMIZER_NAMES),
    space("space_when_never_taken",
          '"optimizer.name" = ["adam"]\n"optimizer.momentum" = { type = "float", min = 0.0, max = 0.9, when = { "optimizer.name" = "sgd" } }',
          'search.space."optimizer.momentum".when', 'optimizer.name never takes ["sgd"]'),
    space("space_hyperband_epochs", '"train.epochs" = [1, 2]', 'search.space."train.epochs"', "hyperband sets each trial's epochs",
          search='algorithm = "hyperband"'),
    space("space_when_cycle", '"optimizer.name" = { type = "choice", values = ["sgd"], when = { "optimizer.nesterov" = true } }\n'
          '"optimizer.nesterov" = { type = "bool", when = { "optimizer.name" = "sgd" } }',
          'search.space."optimizer.name"', "its `when` conditions form a cycle"),
    space("space_val_objective_without_validation", f'{LR} = [0.1, 0.01]', 'search.objective = "val_accuracy"',
          "needs a validation split (data.validation > 0)", tail="[data]\nvalidation = 0\n"),
    # --- search spaces through `kerashp tune` itself (it fails before importing torch)
    Case("tune_empty_float_range", ("tune", "--preset", "{dir}/tune_empty_float_range.toml", "--runs-dir", "{dir}/runs"),
         "{dir}/tune_empty_float_range.toml: ", ('search.space."optimizer.learning_rate"', "empty range: min (0.1) must be below max (0.001)"),
         {"tune_empty_float_range.toml": f'extends = "lenet5"\n[search.space]\n{LR} = {{ type = "float", min = 0.1, max = 0.001 }}\n'}),
    Case("tune_unknown_objective", ("tune", "--preset", "tune_unknown_objective", "--runs-dir", "{dir}/runs"),
         "{dir}/tune_unknown_objective.toml: ", ('search.objective = "top5"', "allowed: val_accuracy, val_loss, accuracy, loss"),
         {"tune_unknown_objective.toml": f'extends = "lenet5"\n[search]\nobjective = "top5"\n[search.space]\n{LR} = [0.1, 0.01]\n'}),
    Case("tune_set_bad_space", ("tune", "--preset", "lenet5_search", "--set", "search.space.x=1", "--runs-dir", "{dir}/runs"),
         "--set: ", ('search.space."x" = 1', "expected a table like"), {}),
]
# tests/config/test_config.py's documents, checked there in-process, here through the CLI
CORPUS += [doc(f"config_{index:02d}", text, key_part, allowed_part) for index, (text, key_part, allowed_part) in enumerate(BAD_DOCUMENTS)]


def run_cli(argv: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kerashp.cli", *argv], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def corpus_results(tmp_path_factory) -> dict[str, tuple[str, subprocess.CompletedProcess]]:
    """Every corpus case run once, four subprocesses at a time: case id -> (its directory, result)."""
    directory = tmp_path_factory.mktemp("bad_input")
    for case in CORPUS:
        for name, body in case.files.items():
            path = directory / name
            path.write_bytes(body) if isinstance(body, bytes) else path.write_text(body)
    env = dict(os.environ, COLUMNS="200", KERASHP_PRESET_PATH=str(directory), KERASHP_RUNS_DIR=str(directory / "runs"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = {case.id: pool.submit(run_cli, [arg.replace("{dir}", str(directory)) for arg in case.argv], env) for case in CORPUS}
    return {name: (str(directory), future.result()) for name, future in runs.items()}


def test_corpus_is_large_and_its_names_are_unique():
    assert len(CORPUS) >= 45
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_bad_input_exits_2_with_one_line_naming_file_key_value_and_what_is_allowed(case, corpus_results, tally):
    directory, result = corpus_results[case.id]
    tally("bad inputs tried")
    output = result.stderr + result.stdout
    assert "Traceback" not in output, output
    assert result.returncode == 2, output
    assert result.stdout == "", "nothing on stdout when the input is refused"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("kerashp: error: " + case.where.replace("{dir}", directory)), line
    for fragment in case.fragments:
        assert fragment.replace("{dir}", directory) in line, (fragment, line)


# ------------------------------------------------------------------------------------------ fuzzing

FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def dotted_keys(node, prefix: str = "") -> list[str]:
    """Every key of a resolved preset as `--set` and `[search.space]` spell it (list entries by name and by index)."""
    keys = []
    if isinstance(node, dict):
        for key, value in node.items():
            keys += [f"{prefix}{key}", *dotted_keys(value, f"{prefix}{key}.")]
    elif isinstance(node, list):
        for index, value in enumerate(node):
            labels = [str(index)] + ([value["name"]] if isinstance(value, dict) and "name" in value else [])
            for label in labels:
                keys += [f"{prefix}{label}", *dotted_keys(value, f"{prefix}{label}.")]
    return keys


SHIPPED = sorted(available_presets())
REAL_KEYS = sorted(key for key in {key for name in SHIPPED for key in dotted_keys(dict(load_preset(name)))}
                   if key != "name" and not key.startswith("search.space."))  # space entries come from `spaces()`
SECTION_KEYS = {name: list(fields) for name, fields in schema.SECTIONS.items()}
SECTION_KEYS["model"] = ["name", *sorted({key for options in MODEL_OPTIONS.values() for key in options})]
TRANSFORM_FIELDS = {"name": Choice("", choices=tuple(schema.TRANSFORMS)), "p": schema.PROBABILITY,
                    **{key: f for fields in schema.TRANSFORMS.values() for key, f in fields.items()}}
NAMES = [*schema.OPTIMIZERS, *schema.SCHEDULES, *MODEL_OPTIONS, *schema.TRANSFORMS, "relu", "random", "max", "tfds:cifar10",
         "folder:.", "val_accuracy", "float", "int", "choice", "bool"]


def field_of(dotted: str):
    """The schema field behind a dotted key (a model option from whichever model has it), or None."""
    parts = dotted.split(".")
    if len(parts) == 1:
        return schema.TOP_LEVEL.get(parts[0])
    if parts[0] == "model" and len(parts) == 2:
        if parts[1] == "name":
            return schema.MODEL_NAME
        return next((options[parts[1]] for options in MODEL_OPTIONS.values() if parts[1] in options), None)
    if parts[0] == "augment" and len(parts) == 4 and parts[1] in schema.TRANSFORM_LISTS:
        return TRANSFORM_FIELDS.get(parts[3])
    if parts[0] in schema.SECTIONS and len(parts) == 2:
        return schema.SECTIONS[parts[0]].get(parts[1])
    return None


LEAF_KEYS = [key for key in REAL_KEYS if field_of(key) is not None]
LENET5_AUG_KEYS = tuple(key for key in dotted_keys(dict(load_preset("lenet5_aug"))) if field_of(key) is not None)

text = st.text(max_size=12)  # any code point, control characters and newlines included
scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),  # nan, inf, huge and tiny included
    st.sampled_from([0, 1, -1, 2, 3, 32, 128, 0.0, 0.5, 1.0, 1e-4, 0.99, 1e308]),
    st.sampled_from(NAMES),
    text,
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=3)),
                      max_leaves=8)


def plausible(f) -> st.SearchStrategy:
    """Values a field nearly or fully accepts: its default, its choices, its bounds and just past them."""
    if isinstance(f, Numbers):
        lengths = f.lengths or (1, 2, 3)
        items = st.lists(plausible(f.item), min_size=min(lengths), max_size=max(lengths) + 1)
        return st.one_of(st.just(f.default), items, plausible(f.item)) if isinstance(f, PerStage) else st.one_of(st.just(f.default), items)
    if hasattr(f, "choices"):
        return st.sampled_from([*f.choices, f.default])
    if isinstance(f, Bool):
        return st.booleans()
    if isinstance(f, (Int, Float)):
        bounds = [b for b in (f.lo, f.hi) if b is not None]
        near = [*bounds, *(b + d for b in bounds for d in (-1, 1, -0.01, 0.01))]
        cast = int if isinstance(f, Int) else float
        return st.sampled_from([f.default, *(cast(v) for v in near)])
    if isinstance(f, FractionOrCount):
        return st.sampled_from([f.default, 0, 0.0, 0.5, 0.99, 1, 8, 1.5])
    if isinstance(f, DataSource):
        return st.sampled_from([f.default, "tfds:x", "folder:x", "tfds:", "x"])
    if isinstance(f, Str):
        return st.sampled_from([f.default, "x"])
    return scalars


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, odds: int = 8) -> st.SearchStrategy:
    """`good` about `odds` times in `odds + 1`: random junk everywhere would stop every example at
    its first check, and the fuzz would never reach extends, overrides or the search space."""
    return st.sampled_from(range(odds + 1)).flatmap(lambda n: bad if n == odds else good)  # Hypothesis favours index 0


def values_for(dotted: str) -> st.SearchStrategy:
    """Mostly plausible values for a known key, sometimes any value."""
    f = field_of(dotted)
    return values if f is None else mostly(plausible(f), values, 4)


def key_names(known: list[str]) -> st.SearchStrategy:
    return mostly(st.sampled_from(known), text)


@st.composite
def tables(draw, where: str, keys: list[str], max_size: int = 4) -> dict:
    return {key: draw(values_for(f"{where}.{key}" if where else key)) for key in draw(st.lists(key_names(keys), max_size=max_size))}


@st.composite
def transform_lists(draw, where: str):
    items = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.one_of(st.sampled_from(list(schema.TRANSFORMS)), st.sampled_from(list(schema.TRANSFORMS)), values))
        keys = ["p", *schema.TRANSFORMS.get(name, {})] if isinstance(name, str) else ["p"]
        items.append(draw(st.one_of(tables(f"{where}.{name}", keys, 3).map(lambda body, name=name: {"name": name, **body}), values)))
    return items


@st.composite
def space_entries(draw, key: str):
    """A `[search.space]` entry for `key`: a plausible range or choice list, sometimes broken."""
    f, kind = field_of(key), draw(st.sampled_from([*schema.SPACE_TYPES, "list", "junk"]))
    pick = plausible(f) if f is not None else scalars
    if kind == "junk":
        return draw(values)
    if kind in ("list", "choice"):
        choices = draw(st.lists(pick, min_size=draw(st.sampled_from([1, 1, 1, 0])), max_size=4))
        entry = {"type": "choice", "values": choices} if kind == "choice" else choices
    elif kind == "bool":
        entry = {"type": "bool"}
    else:
        if not isinstance(f, (Int, Float)):
            pick = mostly(st.sampled_from([0, 1, 2, 32, 0.0, 1e-4, 0.1, 0.5, 0.9, -1]), pick)
        low, high = draw(pick), draw(pick)
        if draw(st.integers(0, 3)) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
            low, high = sorted((low, high))
        extras = draw(st.lists(st.sampled_from(["log", "step"]), max_size=2, unique=True))
        entry = {"type": kind, "min": low, "max": high, **{k: draw(mostly(plausible(schema.SPACE_ENTRY[k]), values)) for k in extras}}
    if isinstance(entry, dict) and draw(st.integers(0, 3)) == 0:
        parent = draw(key_names(LEAF_KEYS))
        entry["when"] = {parent: draw(st.one_of(values_for(parent), st.lists(values_for(parent), max_size=2)))}
    return entry


@st.composite
def spaces(draw, min_size: int = 0, known: tuple[str, ...] = tuple(LEAF_KEYS)) -> dict:
    keys = draw(st.lists(key_names(list(known)), min_size=min_size, max_size=3, unique=True))
    return {key: draw(space_entries(key)) for key in keys}


@st.composite
def sections(draw, name: str):
    body = draw(tables(name, SECTION_KEYS[name]))
    if name == "augment":
        for key in draw(st.lists(st.sampled_from(schema.TRANSFORM_LISTS), max_size=2, unique=True)):
            body[key] = draw(transform_lists(f"augment.{key}"))
    if name == "search" and draw(st.booleans()):
        body["space"] = draw(spaces())
    return body


@st.composite
def documents(draw):
    """A preset document mixing the schema's real names with random ones, holding mostly plausible values."""
    document = draw(tables("", [*schema.TOP_LEVEL, "reference", "name"], 3))
    for name in draw(st.lists(st.sampled_from(sorted(SECTION_KEYS)), max_size=4, unique=True)):
        document[name] = draw(values) if draw(st.integers(0, 9)) == 0 else draw(sections(name))
    return document


@st.composite
def mutated_presets(draw):
    """A shipped preset's own document with a few keys set to new values, removed, or a search space added."""
    document = tomllib.loads(available_presets()[draw(st.sampled_from(SHIPPED))].read_text())
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(REAL_KEYS))
        *path, last = key.split(".")
        node = document
        for part in path:
            if isinstance(node, dict):
                node = node.setdefault(part, {})
            elif isinstance(node, list) and part.isdecimal() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
        if isinstance(node, dict):
            if draw(st.integers(0, 4)) == 0:
                node.pop(last, None)
            else:
                node[last] = draw(values_for(key))
    if draw(st.booleans()) and isinstance(document.setdefault("search", {}), dict):
        document["search"]["space"] = draw(spaces())
    return document


valid_extends = st.sampled_from([*SHIPPED, "fuzz_parent", "fuzz_parent.toml", "./fuzz_parent.toml", "fuzz_child"])
extends_values = mostly(st.one_of(st.none(), valid_extends), st.one_of(text, scalars))


def set_values(key: str) -> st.SearchStrategy:
    return mostly(values_for(key).map(toml_value), st.one_of(text, st.sampled_from(NAMES)))


@st.composite
def set_expressions(draw) -> str:
    """`key=value` for a real key with a plausible value, sometimes a bent key (bad index, into a
    number), sometimes no `=` or random text."""
    kind = draw(st.sampled_from(range(30)))
    if kind == 29:
        return draw(text)
    key = draw(key_names(REAL_KEYS))
    if kind in (27, 28):
        key += draw(st.sampled_from([".0", ".x", ".9", ".²", ".name", ".", ""]))
    return key if kind == 26 else f"{key}={draw(set_values(key))}"


def load_like_the_cli(name_or_path: str, overrides: list[str] = ()) -> str | None:
    """What `presets validate` and `presets show --set` do: None when the preset loads, else the
    one-line UserError message. Any other exception propagates and fails the fuzz test."""
    try:
        preset = load_preset(name_or_path, overrides)
        if preset["search"]["space"]:
            check_search(preset, source=name_or_path)
        tomli_w.dumps({key: value for key, value in preset.items() if key != "name"})
    except UserError as exc:
        message = str(exc)
        assert message and len(message.splitlines()) == 1 and "\n" not in message, repr(message)
        return message
    return None


def write_document(path: Path, document: dict, extends) -> None:
    if extends is not None:
        document = {**document, "extends": extends}
    path.write_text(tomli_w.dumps(document))


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    """A directory on $KERASHP_PRESET_PATH for the fuzzed presets (plain os.environ: Hypothesis
    runs many examples inside one test, so function-scoped monkeypatch does not fit)."""
    directory = tmp_path_factory.mktemp("fuzz")
    previous = os.environ.get("KERASHP_PRESET_PATH")
    os.environ["KERASHP_PRESET_PATH"] = str(directory)
    yield directory
    if previous is None:
        del os.environ["KERASHP_PRESET_PATH"]
    else:
        os.environ["KERASHP_PRESET_PATH"] = previous


def test_fuzzed_documents_extends_and_overrides_load_or_fail_in_one_line(fuzz_dir, tally):
    examples = []

    @FUZZ
    @given(child=st.one_of(documents(), mutated_presets()), parent=documents(), child_extends=extends_values,
           parent_extends=extends_values, overrides=st.lists(set_expressions(), max_size=3))
    def fuzz(child, parent, child_extends, parent_extends, overrides):
        examples.append(1)
        write_document(fuzz_dir / "fuzz_parent.toml", parent, parent_extends)
        write_document(fuzz_dir / "fuzz_child.toml", child, child_extends)
        load_like_the_cli(str(fuzz_dir / "fuzz_child.toml"))
        load_like_the_cli("fuzz_child", overrides)

    fuzz()
    tally("fuzz examples", len(examples))


def test_fuzzed_overrides_on_shipped_presets_load_or_fail_in_one_line(tally):
    examples = []

    @FUZZ
    @given(preset=st.sampled_from(SHIPPED), overrides=st.lists(set_expressions(), min_size=1, max_size=4))
    def fuzz(preset, overrides):
        examples.append(1)
        load_like_the_cli(preset, overrides)

    fuzz()
    tally("fuzz examples", len(examples))


@st.composite
def searches(draw) -> str:
    """A preset extending lenet5_aug with a random [search] table and [search.space]."""
    document = {"extends": "lenet5_aug", "search": draw(tables("search", SECTION_KEYS["search"], 1))}
    document["search"]["space"] = draw(spaces(min_size=1, known=LENET5_AUG_KEYS))
    if draw(st.booleans()):  # a searched parent for `when` conditions to name
        document["search"]["space"]["optimizer.name"] = draw(space_entries("optimizer.name"))
    return tomli_w.dumps(document)


def test_fuzzed_search_spaces_validate_or_fail_in_one_line(fuzz_dir, tally):
    examples = []

    @FUZZ
    @given(text=searches())
    def fuzz(text):
        examples.append(1)
        path = fuzz_dir / "fuzz_search.toml"
        path.write_text(text)
        load_like_the_cli(str(path))

    fuzz()
    tally("fuzz examples", len(examples))


@st.composite
def mutated_text(draw) -> bytes:
    """lenet5_aug.toml with bytes inserted, removed or replaced, or lines dropped, repeated or swapped."""
    data = bytearray(LENET5_AUG)
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "lines"]))
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data[at:at] = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(
                [b"[", b"]", b"=", b'"', b"\n", b"{", b"}", b",", b"nan", b"-", b"1e999", b"9" * 30, b"\\u0000", b"'''", b"#"])))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        elif kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        else:
            lines = bytes(data).split(b"\n")
            picked = draw(st.permutations(lines))[: draw(st.integers(0, len(lines) + 2))]
            data = bytearray(b"\n".join(picked + draw(st.lists(st.sampled_from(lines), max_size=2))))
    return bytes(data)


def test_fuzzed_toml_text_validates_or_fails_in_one_line(fuzz_dir, tally):
    examples = []

    @FUZZ
    @given(data=st.one_of(mutated_text(), mutated_text(), st.binary(max_size=64),
                          st.text(max_size=64).map(lambda s: s.encode("utf-8", "surrogatepass"))))
    def fuzz(data):
        examples.append(1)
        path = fuzz_dir / "fuzz_text.toml"
        path.write_bytes(data)
        load_like_the_cli(str(path))

    fuzz()
    tally("fuzz examples", len(examples))
