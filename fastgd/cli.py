"""The ``fastgd`` command line (also ``python -m fastgd``).

Subcommands: ``demo`` (the default when none is given), ``fit``, ``predict``
and ``bench``; ``fastgd COMMAND --help`` explains each.

Conventions:

* results go to stdout; progress bars and status messages go to stderr
  (bars only when stderr is a terminal and tqdm is installed);
  ``-q/--quiet`` silences stderr except for errors;
* exit status 0 on success, 2 for bad input or usage (missing or malformed
  file, unknown column, bad option, unwritable output), 1 when training
  diverged; errors are one message on stderr, never a traceback;
* outputs are written to a temporary file and renamed into place, and
  output paths are checked before any work starts.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import os
import platform
import re
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import demo
from ._jit import watch_compiling
from ._version import __version__
from .errors import advice_syntax
from .io import (
    CSV_READERS,
    DataError,
    Dataset,
    LinearModel,
    check_distinct_paths,
    check_writable,
    estimated_bytes,
    json_text,
    load_features,
    load_model,
    load_training_data,
    model_text,
    streamable,
    training_columns,
    write_atomic,
)
from .progress import ProgressBar, choose_callback_every
from .training import METHODS, SOLVERS, DivergenceError, train

EXIT_OK = 0
EXIT_DIVERGED = 1
EXIT_BAD_INPUT = 2

COMMANDS = ("demo", "fit", "predict", "bench", "compile")

DATA_HELP = """\
data files:
  .csv      a header line of column names, then numbers separated by
            commas (or ; or tabs: found from the header, or --sep; UTF-8
            text unless --encoding says otherwise)
            (read with pyarrow, else pandas, else numpy; see --reader)
  .npy      a 2-D array: columns are named by index, so --target 3 or -1;
            or a 1-D structured array: columns are its field names
  .npz      named arrays of equal length: a 1-D array is a column named
            after it; a 2-D array X gives columns X[0], X[1], ...; the name
            X alone selects all of them (e.g. --target y --features X)
  .parquet  numeric columns by name (needs pyarrow)
"""


def _stderr_logger(quiet: bool) -> Callable[[str], None]:
    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    return log


def _layout_words(X: np.ndarray) -> str:
    if X.ndim == 1 or X.shape[1] == 1:
        return "one-feature"
    if X.flags.c_contiguous:
        return "C-order"
    return "Fortran-order" if X.flags.f_contiguous else "strided"


def _compile_notice(X: np.ndarray, quiet: bool, bar: ProgressBar | None = None) -> contextlib.AbstractContextManager:
    """Say once on stderr when numba starts compiling for ``X``'s kind of data; keep ``bar``'s clock off the wait."""
    said = []

    def started() -> None:
        if not said and not quiet:
            said.append(True)
            message = f"compiling kernels for {X.dtype} {_layout_words(X)} data (first run only)..."
            bar.note(message) if bar is not None else print(message, file=sys.stderr, flush=True)

    def finished(seconds: float) -> None:
        if bar is not None:
            bar.exclude_pause()

    return watch_compiling(started, finished)


def _separator(text: str) -> str:
    """``--sep``: one character; ``tab`` and ``\\t`` mean a tab."""
    text = "\t" if text in ("tab", "\\t") else text
    if len(text) != 1:
        raise argparse.ArgumentTypeError(f"expected one character (or 'tab'), got {text!r}")
    return text


def _require_matplotlib(option: str) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise DataError(f"{option} needs matplotlib: pip install fastgd[plot]")


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _int_list(text: str) -> list[int]:
    return [_positive_int(part) for part in text.split(",") if part.strip()]


def _byte_size(text: str) -> int:
    """argparse type: bytes, with an optional K, M, G or T suffix (powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)i?b?\s*", text, flags=re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a size such as 512M or 8G, got {text!r}")
    factor = 1024 ** " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * factor)


def _unit_interval(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    value = _non_negative_float(text)
    if value > 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _learning_rate(text: str) -> str | float:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive number, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive number, got {text!r}")
    return value


# ------------------------------------------------------------------- fit --


def _format_table(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _fit_summary(args: argparse.Namespace, data: Any, result: Any) -> dict[str, Any]:
    summary = {
        "data": str(data.path),
        "rows": data.n_rows,
        "target": data.target_name,
        "feature_names": data.feature_names,
        "coef": [float(value) for value in np.atleast_1d(result.w)],
        "intercept": float(result.b),
        "final_loss": float(result.final_loss),
        "n_iter": int(result.n_iter),
        "max_iterations": args.iterations,
        "stop_reason": result.stop_reason,
        "loss_threshold": args.loss_threshold,
        "converged": bool(result.converged),
        "coef_error": _json_number(result.coef_error),
        "tol": float(result.tol),
        "lr": _json_number(result.lr),
        "lr_requested": args.lr,
        "method": result.method,
        "solver": result.solver,
        "alpha": float(result.alpha),
        "l1_ratio": float(result.l1_ratio),
        "duality_gap": _json_number(result.duality_gap),
        "center": bool(result.center),
        "scale": bool(result.scale),
        "backend": result.backend,
        "seconds": float(result.seconds),
        "fastgd_version": __version__,
    }
    return summary


def _json_number(value: float) -> float | None:
    """``value``, or None where JSON has no number for it (NaN, infinity)."""
    return float(value) if np.isfinite(value) else None


def _print_fit(summary: dict[str, Any]) -> None:
    names = summary["feature_names"]
    print(f"fitted {summary['target']!r} on {len(names)} feature(s), {summary['rows']:,} rows of {summary['data']}\n")
    width = max(len("(intercept)"), *(len(name) for name in names))
    print(f"{'feature':<{width}}  {'coefficient':>16}")
    print("-" * (width + 18))
    for name, value in zip(names, summary["coef"], strict=True):
        print(f"{name:<{width}}  {value:>16.10g}")
    print(f"{'(intercept)':<{width}}  {summary['intercept']:>16.10g}\n")
    if summary["lr"] is None:
        lr_text = "exact line search (cg)"
    else:
        lr_text = f"{summary['lr']:.6g}" + (" (auto)" if summary["lr_requested"] == "auto" else "")
    error = summary["coef_error"]
    error_text = "unknown" if error is None else f"{error:.2g}"
    penalised = summary["alpha"] > 0
    rows = [
        ("final loss (MSE + 2 x penalty)" if penalised else "final loss (MSE)", f"{summary['final_loss']:.10g}"),
        (
            "converged",
            f"{'yes' if summary['converged'] else 'NO'} (coefficient error {error_text}, tol {summary['tol']:g})",
        ),
        ("iterations", f"{summary['n_iter']:,} of at most {summary['max_iterations']:,}"),
        ("stop reason", summary["stop_reason"]),
        ("learning rate", lr_text),
    ]
    rows += [(option, str(summary[option])) for option in ("method", "solver", "center", "scale")]
    if penalised:
        gap = summary["duality_gap"]
        rows += [("penalty", f"alpha {summary['alpha']:g}, l1_ratio {summary['l1_ratio']:g}")]
        rows += [("duality gap", "unknown" if gap is None else f"{gap:.2g} (scikit-learn's units)")]
    rows += [("backend", summary["backend"]), ("training time", f"{summary['seconds']:.3f} s")]
    print(_format_table(rows))


def _run_fit(args: argparse.Namespace) -> int:
    log = _stderr_logger(args.quiet)
    # Check every output before reading data or training: a typo should cost nothing.
    check_distinct_paths(
        [("--json output", args.json), ("model", args.save_model), ("plot", args.plot)], [("data file", args.data)]
    )
    if args.json not in (None, "-"):
        check_writable(args.json, "--json output")
    if args.save_model is not None:
        check_writable(args.save_model, "model")
    if args.plot is not None:
        _require_matplotlib("--plot")
        check_writable(args.plot, "plot")
    options: dict[str, Any] = {
        "lr": args.lr,
        "iterations": args.iterations,
        "loss_threshold": args.loss_threshold,
        "tol": args.tol,
        # A number for --lr asks for a learning rate, which conjugate gradients do not take; nor do they an L1 penalty.
        "method": args.method or ("gd" if args.lr != "auto" else "auto"),
        "alpha": args.alpha,
        "l1_ratio": args.l1_ratio,
        "solver": args.solver,
        "center": args.center,
        "scale": args.scale,
        "backend": args.backend,
        "n_threads": args.threads,
        "progress": False,  # the command's own bar (below) is the one bar of the run
    }
    features = None if args.features is None else [name for name in args.features.split(",") if name.strip()]
    stream = _stream_if_too_large(args, features, log)
    if stream is not None:
        return _fit_streamed(args, stream, options, log)
    data = load_training_data(
        args.data, args.target, features, reader=args.reader, log=log, sep=args.sep, encoding=args.encoding
    )

    with ProgressBar(args.iterations, enabled=False if args.quiet else None, description="fit") as bar:
        if bar.enabled:
            options.update(callback=bar, callback_every=choose_callback_every(args.iterations, data.X.size))
        try:
            with advice_syntax("cli"), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                with _compile_notice(data.X, args.quiet, bar):
                    result = train(data.X, data.y, **options)
        except DivergenceError:
            raise
        except (TypeError, ValueError) as error:
            raise DataError(str(error)) from None

    return _write_fit_outputs(args, data, result, caught, log)


def _write_fit_outputs(args: argparse.Namespace, data, result, caught, log) -> int:
    """The table or JSON, the model and the plot of a fit: every one made and checked before the first is written."""
    summary = _fit_summary(args, data, result)
    summary["warnings"] = [str(warning.message) for warning in caught]
    for message in summary["warnings"]:
        print(f"{args.prog}: warning: {message}", file=sys.stderr)
    # Every output is made and checked before the first is written: a failed run writes nothing.
    text = json_text(summary)
    model_json = None
    if args.save_model is not None:
        training = {"data": str(data.path), "rows": data.n_rows, "max_iterations": args.iterations}
        training.update(
            {
                key: summary[key]
                for key in ("method", "solver", "alpha", "l1_ratio", "center", "scale", "converged", "coef_error")
            }
        )
        model_json = model_text(LinearModel.from_result(result, data.feature_names, data.target_name, **training))
    if args.json == "-":
        print(text, end="")
    else:
        _print_fit(summary)
    if args.json not in (None, "-"):
        write_atomic(args.json, lambda handle: handle.write(text.encode()))
        log(f"wrote {args.json}")
    if model_json is not None:
        write_atomic(args.save_model, lambda handle: handle.write(model_json.encode("utf-8")))
        log(f"wrote model {args.save_model}")
    if args.plot is not None:
        from .plotting import save_plots

        one_feature = (data.X[:, 0], data.y) if data.X.shape[1] == 1 else None
        save_plots(args.plot, {"loss": result}, one_feature, labels=(data.feature_names[0], data.target_name))
        log(f"wrote plot {args.plot}")
    return EXIT_OK


def _stream_if_too_large(args: argparse.Namespace, features: list[str] | None, log):
    """A :class:`fastgd.stream.RowStream` of the data file when its values would exceed ``--memory-budget``, else None."""
    from .stream import DEFAULT_BLOCK_BYTES, RowStream

    names = training_columns(args.data, args.target, features, sep=args.sep, encoding=args.encoding)
    size = estimated_bytes(args.data, len(names))
    if size <= args.memory_budget:
        return None
    if not streamable(args.data):
        log(
            f"{args.data}: about {size / 2**20:,.0f} MiB, above --memory-budget, but .npz cannot be streamed: reading it whole"
        )
        return None
    log(
        f"streaming {args.data} in blocks: its values take about {size / 2**20:,.3g} MiB, above --memory-budget "
        f"{args.memory_budget / 2**20:,.3g} MiB"
    )
    return RowStream.from_file(
        args.data, args.target, features, reader=args.reader, sep=args.sep, encoding=args.encoding,
        block_bytes=min(DEFAULT_BLOCK_BYTES, max(1 << 16, args.memory_budget // 8)),
    )  # fmt: skip


def _fit_streamed(args: argparse.Namespace, stream, options: dict[str, Any], log) -> int:
    """``fastgd fit`` on a file larger than the memory budget: :func:`fastgd.train_stream`, one block at a time."""
    from .stream import train_stream

    if args.plot is not None:
        raise DataError("--plot needs the data in memory; raise --memory-budget, or leave out --plot")
    solver = args.solver  # "auto" resolves as in memory, by the number of features
    stream_options = {key: options[key] for key in ("lr", "iterations", "tol", "method", "center", "scale")}
    stream_options.update(alpha=options["alpha"], l1_ratio=options["l1_ratio"], n_threads=options["n_threads"])
    if options["loss_threshold"] is not None:
        if solver == "gram":
            raise DataError("--loss-threshold needs --solver data (or auto) when the file is streamed")
        stream_options["loss_threshold"] = options["loss_threshold"]
    started = time.perf_counter()
    try:
        with advice_syntax("cli"), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _compile_notice(np.empty((2, len(stream.feature_names))), args.quiet):
                result = train_stream(stream, solver=solver, progress=False if args.quiet else None, **stream_options)
    except DivergenceError:
        raise
    except (TypeError, ValueError) as error:
        raise DataError(str(error)) from None
    log(
        f"read {stream.n_rows:,} rows of {stream.path.name} in {stream.passes} pass(es), {time.perf_counter() - started:.2f} s"
    )
    data = Dataset(
        np.empty((stream.n_rows, 0)), None, stream.feature_names, stream.target_name, stream.path, "stream", 0.0
    )
    return _write_fit_outputs(args, data, result, caught, log)


# --------------------------------------------------------------- predict --


# Predictions are formatted and written this many at a time, so the text never exists whole in memory.
PREDICTION_BLOCK = 1 << 16


def _write_predictions(write: Callable[[bytes], Any], predictions: np.ndarray, path: str | None, column: str) -> None:
    """Write ``predictions`` as ``.npy`` (by ``path``'s suffix), one bare column (``.txt``) or CSV with a header."""
    if path is not None and path.lower().endswith(".npy"):
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, np.lib.format.header_data_from_array_1_0(predictions))
        write(buffer.getvalue())
        for start in range(0, predictions.shape[0], PREDICTION_BLOCK):
            write(predictions[start : start + PREDICTION_BLOCK].tobytes())
        return
    if path is None or not path.lower().endswith(".txt"):
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow([column])  # quoted if the name holds a comma or quote
        write(header.getvalue().encode())
    for start in range(0, predictions.shape[0], PREDICTION_BLOCK):
        # repr() is the shortest text that reads back as the very same float64.
        block = predictions[start : start + PREDICTION_BLOCK].tolist()
        write("".join(f"{value!r}\n" for value in block).encode())


def _run_predict(args: argparse.Namespace) -> int:
    log = _stderr_logger(args.quiet)
    if args.out is not None:
        if not args.out.lower().endswith((".csv", ".npy", ".txt")):
            raise DataError(f"--out {args.out}: use a .csv (or .txt) or .npy file name")
        check_writable(args.out, "--out")
        check_distinct_paths([("--out", args.out)], [("model", args.model), ("data file", args.data)])
    model = load_model(args.model)
    data = load_features(
        args.data, model.feature_names, reader=args.reader, log=log, sep=args.sep, encoding=args.encoding
    )
    with _compile_notice(data.X, args.quiet):
        predictions = model.predict(data.X, backend=args.backend)
    column = f"predicted_{model.target_name}" if model.target_name else "prediction"
    if args.out is None:
        sys.stdout.flush()
        binary = getattr(sys.stdout, "buffer", None)  # absent when stdout was replaced (e.g. redirect_stdout)
        _write_predictions(
            binary.write if binary is not None else lambda chunk: sys.stdout.write(chunk.decode()),
            predictions,
            None,
            column,
        )
        sys.stdout.flush()
    else:
        write_atomic(args.out, lambda handle: _write_predictions(handle.write, predictions, args.out, column))
        log(f"wrote {predictions.shape[0]:,} predictions to {args.out}")
    return EXIT_OK


# ----------------------------------------------------------------- bench --


def _median_seconds(function: Callable[[], float], repeats: int) -> tuple[float, float, float]:
    function()  # one untimed run: wakes the thread pool and warms the caches
    times = [function() for _ in range(repeats)]
    return statistics.median(times), min(times), max(times)


def _bench_case(
    rows: int, features: int, dtype: str, args: argparse.Namespace, thread_counts: list[int], log: Callable[[str], None]
) -> None:
    """Time one data size on both paths and print its table rows (the work asv and scripts/ time too)."""
    from . import benchmarking
    from .training import numba_threads

    X, y = benchmarking.generate_data(rows, features, dtype)
    data_bytes = X.nbytes + y.nbytes
    log(f"timing {rows:,} x {features} {dtype} ({data_bytes / 1e6:,.0f} MB) ...")
    epochs = {backend: benchmarking.epoch_callable(X, y, backend) for backend in benchmarking.BACKENDS}
    read_once = benchmarking.read_once_callable(X, y)
    epochs["numba"]()  # compile (or load the cache) outside the timings
    read_once()

    def epoch_time(backend: str) -> float:
        started = time.perf_counter()
        for _ in range(args.iterations):
            epochs[backend]()
        return (time.perf_counter() - started) / args.iterations

    def read_time() -> float:
        started = time.perf_counter()
        read_once()
        return time.perf_counter() - started

    # The numpy path first: numba's thread pool may spin after its runs and slow numpy down.
    timings = [("reference numpy", "-", _median_seconds(lambda: epoch_time("numpy"), args.repeats))]
    roofline = {}
    for threads in thread_counts:
        with numba_threads(threads):
            roofline[threads] = _median_seconds(read_time, args.repeats)
            timings.append(("fused numba", str(threads), _median_seconds(lambda: epoch_time("numba"), args.repeats)))
            timings.append(("read-once (roofline)", str(threads), roofline[threads]))
    fastest_read = min(value[0] for value in roofline.values())
    for path, threads, (median, low, high) in timings:
        floor = roofline[int(threads)][0] if threads != "-" else fastest_read
        fraction = floor / median
        # A read-once pass is the least any epoch can cost; above 100% its own runs were slowed.
        note = (
            "  (>100%: the read-once runs were slowed by other load or turbo changes; rerun)" if fraction > 1.05 else ""
        )
        print(
            f"{rows:>12,}{features:>4}{dtype:>9}  {path:<20}{threads:>8}{median * 1e3:>10.3f}"
            f"{f'({low * 1e3:.3f}-{high * 1e3:.3f})':>18}{data_bytes / median / 1e9:>8.2f}{fraction:>10.0%}{note}"
        )


def _run_bench(args: argparse.Namespace) -> int:
    import numba

    log = _stderr_logger(args.quiet)
    pool = numba.config.NUMBA_NUM_THREADS
    thread_counts = args.threads or [pool]
    if any(count > pool for count in thread_counts):
        raise DataError(f"--threads: at most {pool} (numba's pool size; set NUMBA_NUM_THREADS to change it)")
    from .kernels import read_once

    read_once(np.zeros(1), np.zeros(1), 64)  # starts numba's thread pool, so its threading layer is known
    print(
        f"fastgd bench: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; numba {numba.__version__} "
        f"({numba.threading_layer()} threading layer); "
        f"medians of {args.repeats} runs of {args.iterations} epochs, compile excluded"
    )
    header = (
        f"{'rows':>12}{'d':>4}{'dtype':>9}  {'path':<20}{'threads':>8}{'ms/epoch':>10}{'(min-max)':>18}"
        f"{'GB/s':>8}{'read-once':>11}"
    )
    print(header)
    print("-" * len(header))
    with warnings.catch_warnings():
        # A few epochs never converge; that is not what is being measured.
        warnings.simplefilter("ignore")
        for rows in args.rows:
            for features in args.features:
                for dtype in args.dtype:
                    _bench_case(rows, features, dtype, args, thread_counts, log)
    print(
        "\nread-once: the time a kernel that only reads X and y once takes, as a fraction of the epoch's time "
        "(100% = at the memory-bandwidth limit; the numpy row is compared with the fastest read-once)"
    )
    return EXIT_OK


# --------------------------------------------------------------- compile --


def _run_compile(args: argparse.Namespace) -> int:
    from . import warmup

    log = _stderr_logger(args.quiet)
    try:
        chosen = warmup.variants(args.dtype, args.layout)
    except ValueError as error:
        raise DataError(str(error)) from None
    log(f"compiling for {len(chosen)} kinds of data (numba's cache keeps the result)")
    started = time.perf_counter()

    def report(variant: warmup.Variant, seconds: float) -> None:
        log(f"  {variant}: {seconds:.1f} s")

    warmup.precompile(args.dtype, args.layout, report=report)
    print(f"compiled or loaded {len(chosen)} variants in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


# ---------------------------------------------------------------- parser --


def build_parser(prog: str = "fastgd") -> argparse.ArgumentParser:
    """The argument parser of the ``fastgd`` command."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="fastgd: linear regression by gradient descent, from the command line. "
        "With no command, runs the demo.",
        epilog="exit status: 0 ok, 1 training diverged, 2 bad input or usage.",
    )
    parser.add_argument("--version", action="version", version=f"fastgd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo_parser = commands.add_parser(
        "demo", help="train on synthetic data with both paths and compare (the default)", description=demo.__doc__
    )
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(handler=demo.run)

    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", help="no progress bar or status messages on stderr")
    reader = argparse.ArgumentParser(add_help=False)
    reader.add_argument("--reader", choices=CSV_READERS, default="auto", help="CSV parser (default: auto)")
    reader.add_argument(
        "--sep",
        type=_separator,
        default=None,
        metavar="CHAR",
        help="CSV field separator, e.g. ';' or tab (default: the one of , ; tab in the header line)",
    )
    reader.add_argument("--encoding", default=None, help="CSV text encoding, e.g. latin-1 (default: UTF-8)")
    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument("--backend", choices=("numba", "numpy"), default="numba", help="default: numba")

    fit = commands.add_parser(
        "fit",
        parents=[quiet, reader, backend],
        help="fit a linear model to a data file",
        description="Fit TARGET ~ FEATURES by gradient descent on a data file and print the coefficients.",
        epilog=DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("data", metavar="DATA", help="a .csv, .npy, .npz or .parquet file")
    fit.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    fit.add_argument("--features", metavar="A,B,...", help="feature columns (default: every other column)")
    fit.add_argument(
        "--lr",
        type=_learning_rate,
        default="auto",
        metavar="auto|FLOAT",
        help="learning rate, or 'auto' to let fastgd choose one (default: auto)",
    )
    fit.add_argument(
        "--iterations", type=_positive_int, default=1000, metavar="N", help="at most N iterations (default 1000)"
    )
    fit.add_argument("--loss-threshold", type=float, default=None, metavar="X", help="stop once the loss is <= X")
    fit.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-8,
        metavar="X",
        help="stop once every standardised coefficient, |w_j - w*_j| * std(x_j) / std(y), is within X of the "
        "least-squares solution; warn if a run ends above it (default 1e-8, as GDRegressor)",
    )
    fit.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="'cg': conjugate gradients, the optimum in about d iterations (the default; 'nesterov' with an L1 "
        "penalty, 'gd' when --lr is a number); 'nesterov': accelerated gradient descent (FISTA with an L1 penalty); "
        "'gd': (proximal) gradient descent",
    )
    fit.add_argument(
        "--alpha",
        type=_non_negative_float,
        default=0.0,
        metavar="X",
        help="elastic net penalty strength, as scikit-learn's ElasticNet (default 0: least squares)",
    )
    fit.add_argument(
        "--l1-ratio",
        type=_unit_interval,
        default=0.0,
        metavar="X",
        help="share of the penalty that is L1: 0 ridge (the default), 1 lasso",
    )
    fit.add_argument(
        "--solver",
        choices=SOLVERS,
        default="auto",
        help="'gram': one pass over the data, then O(d^2) iterations; 'data': a pass per iteration; "
        "'auto' (default): gram up to 2048 features",
    )
    fit.add_argument(
        "--center",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="centre the features on the fly (default: on, unless --lr is a number)",
    )
    fit.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="divide the features by their spread on the fly (default: on, unless --lr is a number)",
    )
    fit.add_argument(
        "--memory-budget",
        type=_byte_size,
        default="2G",
        metavar="SIZE",
        help="read a file whose values would take more than SIZE (e.g. 512M, 8G) in blocks instead, in bounded "
        "memory: one pass with the gram solver, a pass per iteration with --solver data (default 2G)",
    )
    fit.add_argument("--threads", type=_positive_int, default=None, help="numba threads (default: all)")
    fit.add_argument(
        "--json", metavar="OUT", help="also write the results as JSON to OUT ('-': to stdout, instead of the table)"
    )
    fit.add_argument("--plot", metavar="OUT.png", help="write the loss curve (and, for one feature, the fit) to a PNG")
    fit.add_argument("--save-model", metavar="OUT", help="save the model as JSON for `fastgd predict`")
    fit.set_defaults(handler=_run_fit)

    predict = commands.add_parser(
        "predict",
        parents=[quiet, reader, backend],
        help="apply a saved model to a data file",
        description="Predict with a model saved by `fastgd fit --save-model`. The data must have the model's "
        "feature columns (by name; other columns are ignored). For a plain 2-D .npy array with exactly as many "
        "columns as the model has features, columns are taken in order.",
        epilog=DATA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("model", metavar="MODEL", help="a model JSON file")
    predict.add_argument("data", metavar="DATA", help="a .csv, .npy, .npz or .parquet file")
    predict.add_argument(
        "--out",
        metavar="FILE",
        help="write predictions to a .csv/.txt (one column) or .npy file (default: stdout, as CSV)",
    )
    predict.set_defaults(handler=_run_predict)

    bench = commands.add_parser(
        "bench",
        parents=[quiet],
        help="time one epoch of both paths against the read-once roofline",
        description="Time one epoch of both paths on synthetic data (medians, compile excluded) and compare it with "
        "a kernel that only reads X and y once: the memory-bandwidth limit. Lists take commas: --rows 1e6,1e7 is not "
        "accepted, --rows 1000000,10000000 is. For bandwidth figures use data far larger than the last-level cache.",
    )
    bench.add_argument("--rows", type=_int_list, default=[1_000_000], help="rows (default 1000000)")
    bench.add_argument("--features", type=_int_list, default=[1], help="features (default 1)")
    bench.add_argument(
        "--dtype",
        type=lambda text: text.split(","),
        default=["float64"],
        help="float64 and/or float32 (default float64)",
    )
    bench.add_argument("--threads", type=_int_list, default=None, help="numba thread counts (default: all)")
    bench.add_argument("--repeats", type=_positive_int, default=5, help="timed runs per figure (default 5)")
    bench.add_argument("--iterations", type=_positive_int, default=10, help="epochs per timed run (default 10)")
    bench.set_defaults(handler=_run_bench)

    from .warmup import DTYPES, LAYOUTS  # numpy only: cheap

    compile_parser = commands.add_parser(
        "compile",
        parents=[quiet],
        help="compile ahead of time for every kind of data (fills numba's cache, for images and clusters)",
        description="Compile fastgd's kernels and loop for each dtype, memory layout, weighting and size of data "
        "now, so that later runs load machine code from numba's cache instead of compiling (minutes in all).",
    )
    compile_parser.add_argument(
        "--dtype", nargs="+", choices=tuple(DTYPES), default=list(DTYPES), help="feature dtypes (default: all)"
    )
    compile_parser.add_argument(
        "--layout", nargs="+", choices=LAYOUTS, default=list(LAYOUTS), help="memory layouts (default: all)"
    )
    compile_parser.set_defaults(handler=_run_compile)
    return parser


def _with_default_command(argv: list[str]) -> list[str]:
    """``fastgd`` and ``fastgd --rows 1000`` mean ``fastgd demo ...``."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["demo", *argv]
    return argv


def main(argv: Sequence[str] | None = None, prog: str = "fastgd") -> int:
    """Run the command line; returns the exit status.

    Examples
    --------
    >>> main(["--version"])  # doctest: +SKIP
    fastgd 0.1.0
    """
    argv = _with_default_command(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    args.prog = prog
    if args.command == "bench":
        for dtype in args.dtype:
            if dtype not in ("float32", "float64"):
                parser.error(f"--dtype: expected float32 or float64, got {dtype!r}")
    try:
        with warnings.catch_warnings():
            # A warning (e.g. fastgd.ConvergenceWarning) reads as one line, like an error, not as source code.
            warnings.showwarning = lambda message, *_args, **_kwargs: print(
                f"{prog}: warning: {message}", file=sys.stderr
            )
            return args.handler(args)
    except DivergenceError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except DataError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `fastgd predict ... | head`): stop quietly, as shell tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:  # e.g. a disk that filled up while writing
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
