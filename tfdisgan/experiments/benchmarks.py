"""The throughput benchmarks behind scripts/benchmark.py and the report they write.

`run_benchmarks(BenchmarkConfig(...))` runs the suites (`SUITES`; what each times is
`tfdisgan.experiments.throughput`) and merges their results into
benchmarks/<machine>.json: suites not run keep an earlier report's numbers, and the file is
rewritten (atomically) after every suite, so a failure keeps the earlier ones.
`training_table` is the markdown table of every training measurement in a report.

Speed targets live here and in the JSON reports under benchmarks/, never in timed tests.

Example:
    >>> report, out = run_benchmarks(BenchmarkConfig(suites=("procedural",)))
    >>> print(training_table(report))
"""

import dataclasses
import json
import os
import platform
import re
import tempfile
import time

import keras
import tensorflow as tf

from tfdisgan import distribute
from tfdisgan import flags as tfd_flags
from tfdisgan.experiments import parity
from tfdisgan.experiments.report import cpu_model
from tfdisgan.experiments.throughput import (
    bench_dataset_tool,
    bench_dcgan,
    bench_export,
    bench_peak_flops,
    bench_procedural,
    bench_reader,
    bench_stylegan2,
    bench_stylegan2_demo,
    bench_stylegan2_inference,
    run_peer,
    run_peer_demo,
    stylegan2_flops,
)
from tfdisgan.files import write_atomic
from tfdisgan.precision import resolve_precision

SUITES = ("reader", "dataset_tool", "procedural", "dcgan64", "dcgan256", "peak", "stylegan2",
          "peer", "export", "demo32")
# Run once per strategy of --strategy (and under "<suite>_xla" with --xla).
TRAINING_SUITES = ("dcgan64", "dcgan256", "stylegan2")
SG2_SCHEDULES = ("r1_every_step", "lazy_r1", "official")


@dataclasses.dataclass
class BenchmarkConfig:
    """What `run_benchmarks` measures; field names are the flags of scripts/benchmark.py.

    Attributes:
        suites: suites to run, in order (of `SUITES`; default all but `peer`).
        sg2_resolutions, sg2_batches: StyleGAN2 training resolutions and batch sizes (ints,
            or strings of them as flags give).
        sg2_schedules: StyleGAN2 schedules (`SG2_SCHEDULES`, see `bench_stylegan2`).
        sg2_precisions: StyleGAN2 precisions (`tfdisgan.precision`; "auto" resolves per
            device and is measured once when it equals another entry).
        peer_root, peer_python, peer_bench: the `peer` suite's stylegan2-ada-pytorch tree,
            a python with torch and its timing script (`run_peer`).
        peer_resolutions: resolutions the peer suite times.
        peer_loop_kimg: kimg of each side's whole training loop in the demo32 suite (0:
            skip the loops).
        out: report path (None: benchmarks/<machine>.json).
        strategy: strategies of the training suites (`tfdisgan.distribute` names).
        devices: devices of the mirrored strategy (empty: all GPUs).
        xla: compile the training suites' train step with XLA.
        logical_cpus: split the CPU into this many logical devices first (0: no split).
    """

    suites: tuple = tuple(s for s in SUITES if s != "peer")
    sg2_resolutions: tuple = (32, 64, 128)
    sg2_batches: tuple = (8, 32)
    sg2_schedules: tuple = ("r1_every_step", "lazy_r1")
    sg2_precisions: tuple = ("float32", "auto")
    peer_root: str | None = None
    peer_python: str | None = None
    peer_bench: str | None = None
    peer_resolutions: tuple = (32, 64)
    peer_loop_kimg: float = 2.0
    out: str | None = None
    strategy: tuple = ("default",)
    devices: tuple = ()
    xla: bool = False
    logical_cpus: int = 0


FLAG_HELP = {
    "suites": f"Suites to run, of {SUITES}.",
    "sg2_resolutions": "StyleGAN2 training resolutions.",
    "sg2_batches": "StyleGAN2 training batch sizes.",
    "sg2_schedules": "StyleGAN2 schedules: r1_every_step, lazy_r1, official.",
    "sg2_precisions": "StyleGAN2 precisions (tfdisgan.precision; auto resolves per device, "
                      "measured once when it equals another entry).",
    "peer_root": "A source tree of NVlabs/stylegan2-ada-pytorch.",
    "peer_python": "A python with torch (CPU) for the peer suite.",
    "peer_bench": "A timing script for the official code (its --configs, --param-res, "
                  "--train-res, --infer-res, --batch, --out interface).",
    "peer_resolutions": "Resolutions the peer suite times.",
    "peer_loop_kimg": "demo32 with --peer_root/--peer_python: kimg of each side's whole "
                      "training loop (ours, then benchmarks/train_official.py), ticks of a "
                      "quarter of it; 0 skips the loops.",
    "out": "Report path (default benchmarks/<machine>.json).",
    "strategy": "Strategies of the training suites (tfdisgan.distribute: default, mirrored, "
                "multiworker, tpu).",
    "devices": "Devices of --strategy=mirrored (default all GPUs).",
    "xla": "Compile the training suites' train step with XLA (jit_compile); results go under "
           "\"<suite>_xla\".",
    "logical_cpus": "Split the CPU into this many logical devices (/cpu:0, /cpu:1, ...) "
                    "before TensorFlow starts; 0: no split.",
}


def define_flags(flag_values=None):
    """Defines the flags of scripts/benchmark.py: one per `BenchmarkConfig` field."""
    tfd_flags.define_dataclass_flags(BenchmarkConfig, FLAG_HELP, flag_values=flag_values)


def config_from_flags(values=None):
    """A `BenchmarkConfig` from the parsed `define_flags` flags."""
    return tfd_flags.dataclass_from_flags(BenchmarkConfig, values)


class BenchmarkError(ValueError):
    """A bad benchmark setting; the message names the flag."""


def machine_name():
    """A stable file name for this machine: CPU model slug, core count and GPU if any."""
    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-")[:40]
    gpus = tf.config.list_physical_devices("GPU")
    suffix = f"-{len(gpus)}gpu" if gpus else ""
    return f"{slug}-{os.cpu_count()}cpu{suffix}"


def environment():
    """Versions and hardware the numbers were measured with."""
    return {
        "machine": machine_name(),
        "cpu_count": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _sg2_key(res, batch, schedule, precision):
    # float32 keeps the plain key (comparable with earlier reports).
    suffix = "" if precision == "float32" else f"_{precision}"
    return f"{res}px_b{batch}_{schedule}{suffix}"


def bench_stylegan2_suite(resolutions, batches, schedules, precisions, xla=False,
                          log=print):
    """The `stylegan2` suite: training images/s of every resolution x batch x schedule x
    precision (lazy schedules at batch 8 only), and, outside a strategy's scope, FLOPs per
    image and G inference images/s per resolution and precision.

    Args:
        resolutions, batches: ints.
        schedules: of `SG2_SCHEDULES`.
        precisions: concrete precisions (resolved, no "auto"), each once.
        xla: compile the train step with XLA.
        log: function of one progress line.
    """
    result = {"config": "paper256 nets (channel_base 16384, channel_max 512, 8 mapping "
                        "layers, mbstd 8), z=w=512, no augmentation; float32, or mixed "
                        "precision in the top 4 resolutions (official layout) for keys ending "
                        "in the precision", "train": {}, "inference": {}, "flops": {}}
    # FLOPs and inference are measured once, without a strategy (see --strategy).
    measure_once = not tf.distribute.has_strategy()
    for res in resolutions:
        if measure_once:
            result["flops"][res] = stylegan2_flops(res)
        for precision in precisions if measure_once else ():
            key = res if precision == "float32" else f"{res}_{precision}"
            result["inference"][key] = bench_stylegan2_inference(res, precision=precision)
        for batch in batches:
            for schedule in schedules:
                if schedule != "r1_every_step" and batch != 8:
                    continue  # 16-step cycles at batch 32 take too long on a small CPU
                for precision in precisions:
                    key = _sg2_key(res, batch, schedule, precision)
                    log(f"   {key}")
                    result["train"][key] = bench_stylegan2(
                        res, batch, schedule, repeats=2 if res >= 128 else 3,
                        precision=precision, xla=xla)
    return result


def bench_demo32_suite(precisions, config, log=print):
    """The `demo32` suite: StyleGAN2 training images/s at the CPU demo size (small nets, 32
    px, batch 32, the official lazy schedule) in every precision of `precisions`; with
    ``peer_root`` and ``peer_python`` also both whole training loops side by side
    (`parity.loop_speeds`: ours and the official ``training_loop.py`` on the same data for
    ``peer_loop_kimg`` each) and, with ``peer_bench``, the official step timer's estimate.

    ``over_peer`` compares with the official loop when it ran, with the timer otherwise;
    ``over_peer_timer`` always with the timer. The timer times each phase on its own; its
    estimate was 0.72x and 1.11x the official loop's own rate in two runs on one machine
    (and 0.89x, 1.06-1.3x on two others), so only the loop comparison is a claim about
    training."""
    result = {"config": "32 px, batch 32, channel_base 4096, channel_max 128, z = w = 128, "
                        "2 mapping layers, mbstd 4, lazy R1 / 16 and path length / 4, no "
                        "augmentation", "train": {}}
    for precision in precisions:
        log(f"   {precision}")
        result["train"][precision] = bench_stylegan2_demo(precision, xla=config.xla)

    def ratios(peer_rate):
        return {precision: round(entry["images_per_s"] / peer_rate, 2)
                for precision, entry in result["train"].items()}

    if config.peer_root and config.peer_python and config.peer_loop_kimg > 0:
        log(f"   whole training loops, {config.peer_loop_kimg:g} kimg each")
        with tempfile.TemporaryDirectory(prefix="tfdisgan-bench-loops-") as tmp:
            loops = parity.loop_speeds(parity.ParityConfig(
                outdir=tmp, data="procedural:2000", kimg=config.peer_loop_kimg,
                eval_kimg=config.peer_loop_kimg / 4, peer_python=config.peer_python,
                peer_root=config.peer_root), log=log)
        result["loops"] = loops
        result["over_peer"] = ratios(loops["official"]["images_per_s"])
    if config.peer_root and config.peer_python and config.peer_bench:
        log("   official step timer (peer)")
        peer = run_peer_demo(config.peer_bench, config.peer_root, config.peer_python)
        result["peer"] = peer
        result["over_peer_timer"] = ratios(peer["images_per_s"])
        result.setdefault("over_peer", result["over_peer_timer"])
    return result


def _ints(values, flag):
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise BenchmarkError(f"{flag}: expected integers, got {list(values)}") from None


def _unknown(values, valid, flag):
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise BenchmarkError(f"{flag}: unknown {unknown}; valid: {', '.join(valid)}")


def _strategies(config):
    """[(name, strategy or None for the default)] of `config.strategy`; splits the CPU
    into `logical_cpus` devices first."""
    if config.logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * config.logical_cpus)
    result = []
    for name in config.strategy:
        try:
            devices = config.devices if name == "mirrored" else ()
            strategy = distribute.make_strategy(name, devices)
        except ValueError as error:  # StrategyError: it names --strategy or --devices
            raise BenchmarkError(str(error)) from None
        result.append((name, None if name == "default" else strategy))
    return result


def _precisions(names):
    """The concrete precisions of `names` ("auto" resolved for this machine), each once."""
    resolved = []
    for name in names:
        try:
            name = resolve_precision(name)
        except ValueError as error:
            raise BenchmarkError(f"--sg2_precisions: {error}") from None
        if name not in resolved:
            resolved.append(name)
    return resolved


def _read_report(out):
    if not os.path.exists(out):
        return {}
    try:
        with open(out, encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError as error:
        raise BenchmarkError(f"--out: {out} holds no JSON report ({error})") from None


def run_benchmarks(config, verbose=True):
    """Runs `config.suites` and writes the merged report (see the module doc).

    Every setting is checked before the first suite runs. The training suites run once
    per strategy of `config.strategy` (the models built in its scope), under
    "<suite>_<strategy>" for strategies other than default and "<suite>..._xla" with
    `xla`. Derived numbers (`summarise`) are recomputed after every suite.

    Args:
        config: `BenchmarkConfig`.
        verbose: print each suite's name and results to stdout.

    Returns:
        ``(report, out)``: the whole report dict (earlier suites included) and its path.

    Raises:
        BenchmarkError: a bad setting, naming the flag.
    """
    _unknown(config.suites, SUITES, "--suites")
    if "peer" in config.suites and not (config.peer_root and config.peer_python
                                        and config.peer_bench):
        raise BenchmarkError("--suites=peer needs --peer_root, --peer_python and --peer_bench")
    _unknown(config.sg2_schedules, SG2_SCHEDULES, "--sg2_schedules")
    sg2_resolutions = _ints(config.sg2_resolutions, "--sg2_resolutions")
    sg2_batches = _ints(config.sg2_batches, "--sg2_batches")
    peer_resolutions = _ints(config.peer_resolutions, "--peer_resolutions")
    strategies = _strategies(config)  # first: it splits the CPU before TensorFlow starts
    precisions = _precisions(config.sg2_precisions)
    log = (lambda *a: print(*a, flush=True)) if verbose else (lambda *a: None)
    runners = {
        "reader": bench_reader,
        "dataset_tool": bench_dataset_tool,
        "procedural": bench_procedural,
        "dcgan64": lambda: bench_dcgan(64, xla=config.xla),
        "dcgan256": lambda: bench_dcgan(256, xla=config.xla),
        "peak": bench_peak_flops,
        "stylegan2": lambda: bench_stylegan2_suite(sg2_resolutions, sg2_batches,
                                                   config.sg2_schedules, precisions,
                                                   xla=config.xla, log=log),
        "peer": lambda: run_peer(config.peer_bench, config.peer_root, config.peer_python,
                                 peer_resolutions),
        "export": bench_export,
        "demo32": lambda: bench_demo32_suite(precisions, config, log=log),
    }
    env = environment()
    out = config.out or os.path.join("benchmarks", f"{env['machine']}.json")
    report = _read_report(out)
    report["environment"] = env
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    for suite in config.suites:
        for name, strategy in strategies if suite in TRAINING_SUITES else [("default", None)]:
            key = suite if name == "default" else f"{suite}_{name}"
            if config.xla and suite in TRAINING_SUITES:
                key += "_xla"
            log(f"== {key}")
            if strategy is None:
                report[key] = runners[suite]()
            else:
                with strategy.scope():  # models built here train on its replicas
                    report[key] = runners[suite]()
            log(json.dumps(report[key], indent=1))
            summarise(report)
            # After every suite: a later failure keeps the earlier ones.
            write_atomic(out, json.dumps(report, indent=2))
    return report, out


def summarise(report):
    """Adds the derived numbers to `report`: reader vs training, StyleGAN2 vs peer,
    fraction of this machine's peak."""
    if "reader" in report and "dcgan256" in report:
        report["reader_over_training_at_256"] = round(
            report["reader"]["streaming_images_per_s"] / report["dcgan256"]["images_per_s"], 1
        )
    sg2, peer, peak = report.get("stylegan2"), report.get("peer"), report.get("peak")
    if sg2 and peer:
        ratios = {}
        for res, theirs in peer["by_resolution"].items():
            for schedule, key in (("r1_every_step", "train_img_per_s_r1_every_step"),
                                  ("lazy_r1", "train_img_per_s_lazy_r1_est")):
                for precision in ("float32", "mixed_bfloat16", "mixed_float16"):
                    name = _sg2_key(res, peer["batch"], schedule, precision)
                    ours = sg2["train"].get(name)
                    if ours and theirs.get(key):
                        ratios[name] = round(ours["images_per_s"] / theirs[key], 2)
            for suffix in ("", "_mixed_bfloat16", "_mixed_float16"):
                ours_inf = sg2["inference"].get(f"{res}{suffix}")
                if ours_inf is None and not suffix:
                    ours_inf = sg2["inference"].get(int(res))
                if ours_inf and theirs.get("infer_img_per_s"):
                    ratios[f"{res}px_inference_b16{suffix}"] = round(
                        ours_inf["images_per_s"] / theirs["infer_img_per_s"], 2)
        report["stylegan2_over_peer"] = ratios
    if sg2 and peak:
        fractions = {}
        for key, entry in sg2["train"].items():
            res = int(key.split("px")[0])
            flops = sg2["flops"].get(res) or sg2["flops"].get(str(res))
            achieved = flops["train_estimate"] * entry["images_per_s"]
            # Mixed keys against the bf16 peak: most of their FLOPs run in the half dtype.
            gflops = peak["conv_gflops"]
            if key.endswith("bfloat16") and peak.get("conv_gflops_bfloat16"):
                gflops = peak["conv_gflops_bfloat16"]
            fractions[key] = round(achieved / (gflops * 1e9), 3)
        report["stylegan2_fraction_of_peak_conv"] = fractions


def _train_rows(report):
    """(suite key, entry) for every training measurement in the report."""
    for key, value in sorted(report.items()):
        if not isinstance(value, dict):
            continue
        if key.startswith("dcgan") and "images_per_s" in value:
            yield key, value
        elif key.startswith("stylegan2") and isinstance(value.get("train"), dict):
            for name, entry in value["train"].items():
                yield f"{key}:{name}", entry


def training_table(report):
    """Markdown table: resolution x batch x replicas x precision x xla -> img/s, sec/kimg,
    peak memory, for every training entry of the report."""
    lines = ["| run | res | batch | replicas | precision | xla | img/s | sec/kimg | peak MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, entry in _train_rows(report):
        rate = entry.get("images_per_s")
        memory = entry.get("gpu_peak_mb", entry.get("host_peak_mb", ""))
        lines.append(
            f"| {key} | {entry.get('resolution', '')} | {entry.get('batch_size', '')} | "
            f"{entry.get('replicas', 1)} | {entry.get('precision', 'float32')} | "
            f"{'yes' if entry.get('xla') else 'no'} | {rate} | "
            f"{entry.get('sec_per_kimg', round(1000 / rate, 1) if rate else '')} | {memory} |")
    return "\n".join(lines)
