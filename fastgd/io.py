"""Reading data files and saving models, for the command line and for scripts.

Data files (:func:`load_training_data`, :func:`load_features`):

* **CSV** (``.csv``, comma-separated, first line a header of column names):
  read with pyarrow when installed, else pandas, else numpy; only the columns
  asked for are parsed. Bad cells are reported as ``line L`` (1-based, the
  header is line 1) and column name.
* **NumPy** ``.npy``: a 2-D array, whose columns are named by their index
  (``"0"``, ``"1"``, ...; a target may also be given as ``"-1"``), or a 1-D
  structured array, whose columns are its fields. A 1-D plain array is one
  column named ``"0"``. Read memory-mapped; never unpickled.
* **NumPy** ``.npz``: named arrays of equal length. A 1-D array is one column
  with the array's name; a 2-D array ``X`` of shape ``(n, k)`` gives columns
  ``X[0]`` ... ``X[k-1]``, and the name ``X`` alone means all of them.
* **Parquet** (``.parquet``, ``.pq``; needs pyarrow): numeric columns by name.

Array and Parquet rows are reported 0-based (``row 0`` is the first).

Models (:func:`save_model`, :func:`load_model`) are small JSON documents, never
pickles::

    {"format": "fastgd-linear-model", "format_version": 1,
     "feature_names": [...], "target_name": "...", "coef": [...], "intercept": ...,
     "training": {...}}

Floats are written with ``repr``, so coefficients round-trip exactly.
Every output is written to a temporary file in the destination's directory
and renamed over it (:func:`write_atomic`), so an interrupted write never
leaves a half-written file behind; a symbolic link is followed (its target
is replaced, the link stays), and a destination that is not a regular file
(a terminal, ``/dev/null``, a FIFO) is written to directly, never replaced.
:func:`check_distinct_paths` refuses an output that is one of the run's
inputs or another of its outputs before anything is read or written.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import io
import itertools
import json
import math
import os
import re
import socket
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "DataError",
    "Dataset",
    "LinearModel",
    "check_writable",
    "column_names",
    "load_features",
    "load_model",
    "load_training_data",
    "save_model",
    "write_atomic",
]

MODEL_FORMAT = "fastgd-linear-model"
MODEL_FORMAT_VERSION = 1

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")
SUPPORTED_SUFFIXES = (*CSV_SUFFIXES, ".npy", ".npz", *PARQUET_SUFFIXES)
CSV_READERS = ("auto", "pyarrow", "pandas", "numpy")

Log = Callable[[str], None]


class DataError(ValueError):
    """A data or model file cannot be used; the message says which file, where and why."""


def _quiet(message: str) -> None:
    """The default ``log``: say nothing."""


@dataclass
class Dataset:
    """Columns read from a file, as float arrays ready for :func:`fastgd.train`.

    Attributes
    ----------
    X : ndarray, shape (n, d)
        The feature columns, C-ordered (float64, or float32 when the file held float32).
    y : ndarray, shape (n,) or None
        The target column (``None`` when only features were read).
    feature_names, target_name :
        Column names as the file calls them.
    path : Path
    reader : str
        What parsed the file (``"pyarrow"``, ``"pandas"``, ``"numpy"``).
    seconds : float
        Time spent reading.
    """

    X: NDArray[np.floating]
    y: NDArray[np.floating] | None
    feature_names: list[str]
    target_name: str | None
    path: Path
    reader: str
    seconds: float

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])


# ---------------------------------------------------------------- columns --


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}; "
            f"fastgd reads {', '.join(SUPPORTED_SUFFIXES)} (see `fastgd fit --help`)"
        )
    return suffix


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    return path


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written: its field separator, its text encoding, its header's column names (stripped)."""

    sep: str
    encoding: str
    header: list[str]


_MAX_HEADER_BYTES = 16 << 20

# Separators found on their own in a header line are taken as the file's (a European "a;b;y").
_SEPARATORS = (",", ";", "\t")


def _every_case(word: str) -> tuple[str, ...]:
    return tuple("".join(letters) for letters in itertools.product(*((c.lower(), c.upper()) for c in word)))


# Booleans in any case (as pandas reads them) are 1 and 0 for every reader; pyarrow needs each spelling.
_TRUE, _FALSE = _every_case("true"), _every_case("false")
_BOOLEANS = {**dict.fromkeys(_TRUE, 1.0), **dict.fromkeys(_FALSE, 0.0)}


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8-sig" else encoding


def _decode(data: bytes, encoding: str, path: Path, where: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path}: {where} is not {_encoding_name(encoding)} text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "give the file's encoding, e.g. --encoding latin-1 (encoding='latin-1' from Python)"
        ) from None
    except LookupError:
        raise DataError(f"{path}: unknown text encoding {encoding!r}") from None


def csv_format(path: str | os.PathLike, sep: str | None = None, encoding: str | None = None) -> CsvFormat:
    """Read a CSV file's header line and settle its separator and encoding.

    ``sep=None`` takes the one of ``,`` ``;`` and tab that occurs in the
    header line (a comma when none does); a header holding more than one of
    them needs an explicit ``sep``. ``encoding=None`` means UTF-8 (with or
    without a byte-order mark). Column names are stripped of surrounding
    spaces, whatever reader parses the file.
    """
    path = Path(path)
    encoding = encoding or "utf-8-sig"
    with open(path, "rb") as handle:
        first = handle.readline(_MAX_HEADER_BYTES + 1)
    if len(first) > _MAX_HEADER_BYTES:
        raise DataError(f"{path}: the header line is longer than {_MAX_HEADER_BYTES >> 20} MiB; is this a CSV file?")
    line = _decode(first, encoding, path, "the header line").rstrip("\r\n")
    if sep is None:
        present = [candidate for candidate in _SEPARATORS if candidate in line]
        if len(present) > 1:
            shown = " and ".join("tab" if c == "\t" else repr(c) for c in present)
            raise DataError(f"{path}: the header line holds both {shown}; say which separates fields with --sep")
        sep = present[0] if present else ","
    elif len(sep) != 1:
        raise DataError(f"{path}: the separator must be one character, got {sep!r}")
    header = next(csv.reader([line], delimiter=sep), None)
    if not header or all(not name.strip() for name in header):
        raise DataError(f"{path}: the file is empty (no header line)")
    header = [name.strip() for name in header]
    if all(_looks_numeric(name) for name in header):
        raise DataError(
            f"{path}: the first line ({', '.join(header[:4])}{', ...' if len(header) > 4 else ''}) "
            "looks like numbers; a CSV file needs a header line of column names"
        )
    return CsvFormat(sep, encoding, header)


def _npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Each array's shape in an ``.npz`` file, from its header alone: no array is decompressed or read."""
    shapes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape = np.lib.format.read_array_header_1_0(member)[0]
                    elif version == (2, 0):
                        shape = np.lib.format.read_array_header_2_0(member)[0]
                    else:  # a header version without a public reader: load this one array
                        with _load_npz(path) as arrays:
                            shape = arrays[info.filename[: -len(".npy")]].shape
                shapes[info.filename[: -len(".npy")]] = tuple(shape)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    return shapes


def _npz_columns(path: Path) -> dict[str, tuple[str, int | None]]:
    """Column name -> (array name, column index or None for a 1-D array), from the arrays' headers."""
    columns: dict[str, tuple[str, int | None]] = {}
    for name, shape in _npz_shapes(path).items():
        if len(shape) == 1:
            columns[name] = (name, None)
        elif len(shape) == 2:
            for j in range(shape[1]):
                columns[f"{name}[{j}]"] = (name, j)
        else:
            raise DataError(f"{path}: array {name!r} has shape {shape}; .npz arrays must be 1-D or 2-D")
    return columns


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npy file ({error})") from None


def _load_npz(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None


def _npy_names(array: np.ndarray, path: Path) -> list[str]:
    if array.dtype.names:
        return list(array.dtype.names)
    if array.ndim == 1:
        return ["0"]
    if array.ndim == 2:
        return [str(j) for j in range(array.shape[1])]
    raise DataError(f"{path}: a {array.ndim}-D array (shape {array.shape}); fastgd reads 1-D or 2-D .npy arrays")


def column_names(path: str | os.PathLike, *, sep: str | None = None, encoding: str | None = None) -> list[str]:
    """The column names a data file offers, in file order (``sep`` and ``encoding``: see :func:`csv_format`).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> np.savez(os.path.join(folder, "data.npz"), X=np.zeros((3, 2)), y=np.zeros(3))
    >>> column_names(os.path.join(folder, "data.npz"))
    ['X[0]', 'X[1]', 'y']
    """
    path = _existing(path)
    suffix = _suffix(path)
    if suffix in CSV_SUFFIXES:
        return csv_format(path, sep, encoding).header
    if suffix == ".npy":
        return _npy_names(_load_npy(path), path)
    if suffix == ".npz":
        return list(_npz_columns(path))
    pq = _pyarrow_parquet(path)
    try:
        return list(pq.read_schema(path).names)
    except Exception as error:  # pyarrow raises its own error types for a bad file
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None


def _resolve(path: Path, wanted: Sequence[str], available: list[str], groups: dict[str, list[str]]) -> list[str]:
    """Check and expand requested column names (``-1`` style indices and .npz group names)."""
    resolved: list[str] = []
    index_names = available == [str(j) for j in range(len(available))]
    for name in wanted:
        name = name.strip()
        if name in available:
            resolved.append(name)
        elif name in groups:
            resolved.extend(groups[name])
        elif index_names and re.fullmatch(r"-\d+", name) and int(name) >= -len(available):
            resolved.append(str(len(available) + int(name)))
        else:
            shown = ", ".join(available[:30]) + (f", ... ({len(available)} in all)" if len(available) > 30 else "")
            extra = f"; or a whole array: {', '.join(groups)}" if groups else ""
            raise DataError(f"{path}: no column {name!r}; available columns: {shown}{extra}")
    duplicates = sorted({name for name in resolved if resolved.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, duplicates))} requested more than once")
    return resolved


# ------------------------------------------------------------ CSV reading --


def _pyarrow_parquet(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install fastgd[parquet]") from None
    return pq


def _choose_csv_reader(reader: str) -> str:
    if reader not in CSV_READERS:
        raise ValueError(f"reader must be one of {CSV_READERS}, got {reader!r}")
    if reader != "auto":
        return reader
    import importlib.util

    for candidate in ("pyarrow", "pandas"):
        if importlib.util.find_spec(candidate) is not None:
            return candidate
    return "numpy"


def _cell_value(text: str) -> float:
    """A CSV cell as every reader takes it: a number, or ``true``/``false`` (:data:`_BOOLEANS`) as 1 and 0."""
    text = text.strip()
    boolean = _BOOLEANS.get(text)
    return float(text) if boolean is None else boolean


def _read_csv_pyarrow(path: Path, names: list[str], form: CsvFormat) -> NDArray[np.float64]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        _rewound(path),
        read_options=pacsv.ReadOptions(column_names=form.header, skip_rows=1, encoding=form.encoding),
        parse_options=pacsv.ParseOptions(delimiter=form.sep),
        convert_options=pacsv.ConvertOptions(
            include_columns=names,
            strings_can_be_null=True,
            # Booleans are the same words as _cell_value's; numbers are inferred and cast below.
            true_values=list(_TRUE),
            false_values=list(_FALSE),
        ),
    )
    out = np.empty((table.num_rows, len(names)))
    for j, name in enumerate(names):
        column = table.column(name)
        if not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type)
            or pa.types.is_null(column.type)
        ):
            raise ValueError(f"column {name!r} is {column.type}")  # reported cell by cell by _find_bad_csv_cell
        out[:, j] = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)  # nulls become NaN
    return out


def _read_csv_pandas(path: Path, names: list[str], form: CsvFormat) -> NDArray[np.float64]:
    import pandas as pd

    # Correctly rounded parsing (the same doubles as Python's float()) is the
    # default from pandas 3 on, and an option, "round_trip", before it.
    precision = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    with warnings.catch_warnings():
        # Every column is parsed (usecols would drop extra fields silently), and with index_col=False
        # pandas only warns (ParserWarning) about an extra field in the first data line: an error here,
        # as the other readers have it.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        # Columns by position: a header may name two columns alike, which pandas' names= refuses.
        positions = [form.header.index(name) for name in names]
        frame = pd.read_csv(
            _rewound(path), sep=form.sep, encoding=form.encoding, header=None, skiprows=1,
            names=list(range(len(form.header))), index_col=False, dtype=dict.fromkeys(positions, np.float64),
            true_values=list(_TRUE), false_values=list(_FALSE), **precision,
        )  # fmt: skip
    # pandas fills a short line's missing fields with NaN; the other readers refuse such a line.
    if frame.shape[0] and frame[len(form.header) - 1].isna().any():
        _refuse_bad_line(path, form, names)
    return np.ascontiguousarray(frame[positions].to_numpy(dtype=np.float64))


def _read_csv_numpy(path: Path, names: list[str], form: CsvFormat) -> NDArray[np.float64]:
    options = dict(
        delimiter=form.sep, skiprows=1, usecols=[form.header.index(name) for name in names], ndmin=2,
        dtype=np.float64, quotechar='"', comments=None, encoding=form.encoding,
    )  # fmt: skip
    try:
        values = np.loadtxt(_rewound(path), **options)
    except ValueError:  # perhaps booleans: again with a Python converter per cell (slower, so only then)
        values = np.loadtxt(_rewound(path), converters=_cell_value, **options)
    # loadtxt ignores fields beyond the columns it parses; the other readers refuse a line with extra
    # fields. Counting separators line by line finds such a line (or a quoted separator, which the
    # careful scan then clears).
    separator = form.sep.encode("utf-8" if codecs.lookup(form.encoding).name == "utf-8-sig" else form.encoding)
    expected = len(form.header) - 1
    with contextlib.nullcontext(_rewound(path)) if isinstance(path, io.BytesIO) else open(path, "rb") as handle:
        handle.readline()
        uneven = any(line.count(separator) != expected for line in handle if line.strip())
    if uneven:
        _refuse_bad_line(path, form, names)
    return values


def _rewound(source: Path | io.BytesIO) -> Path | io.BytesIO:
    """A path as it is, or an in-memory block of CSV text (a streamed block) from its start."""
    if isinstance(source, io.BytesIO):
        source.seek(0)
    return source


@contextlib.contextmanager
def _text_lines(source: Path | io.BytesIO, encoding: str) -> Iterator[IO[str]]:
    """The CSV text of a file, or of a streamed block (left open), for the csv module."""
    if not isinstance(source, io.BytesIO):
        with open(source, newline="", encoding=encoding) as handle:
            yield handle
        return
    wrapper = io.TextIOWrapper(_rewound(source), encoding=encoding, newline="")
    try:
        yield wrapper
    finally:
        wrapper.detach()  # the block stays open for its reader


def _refuse_bad_line(path: Path, form: CsvFormat, names: list[str]) -> None:
    """Raise the DataError of the first bad line or cell that :func:`_find_bad_csv_cell` finds, if any."""
    if isinstance(path, io.BytesIO):  # a streamed block: iter_blocks then scans the file for the line's number
        where = _find_bad_csv_cell(path, form, names)
        if where is not None:
            raise ValueError(where)
        return
    where = _find_bad_csv_cell(path, form, names)
    if where is not None:
        raise DataError(f"{path}: {where}")


def _find_bad_csv_cell(path: Path, form: CsvFormat, names: list[str]) -> str | None:
    """Scan the file with the csv module for the first unusable line or cell of ``names``: only on the error path."""
    positions = [(form.header.index(name), name) for name in names]
    width = len(form.header)
    try:
        with _text_lines(path, form.encoding) as handle:
            records = csv.reader(handle, delimiter=form.sep)
            next(records, None)
            for record in records:
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # every reader skips blank lines
                line = records.line_num
                if len(record) != width:
                    return f"line {line} has {len(record)} field(s) but the header has {width}"
                for index, name in positions:
                    text = record[index].strip()
                    if not text:
                        return f"line {line}, column {name!r}: empty cell (missing value)"
                    try:
                        value = _cell_value(text)
                    except ValueError:
                        return f"line {line}, column {name!r}: {text!r} is not a number"
                    if not math.isfinite(value):
                        return f"line {line}, column {name!r}: {text!r} is not a finite number"
    except UnicodeDecodeError as error:
        return (
            f"not {_encoding_name(form.encoding)} text after the header ({error.reason} at byte offset "
            f"{error.start}); use --encoding"
        )
    return None


def _read_csv(
    path: Path, names: list[str], reader: str, sep: str | None = None, encoding: str | None = None
) -> tuple[NDArray[np.float64], str]:
    form = csv_format(path, sep, encoding)
    reader = _choose_csv_reader(reader)
    try:
        if reader == "pyarrow":
            values = _read_csv_pyarrow(path, names, form)
        elif reader == "pandas":
            values = _read_csv_pandas(path, names, form)
        else:
            values = _read_csv_numpy(path, names, form)
    except DataError:  # the reader found the bad line itself
        raise
    except Exception as error:  # each reader has its own parse-error types; all are reported the same way
        where = _find_bad_csv_cell(path, form, names)
        raise DataError(f"{path}: {where or f'could not be parsed ({type(error).__name__}: {error})'}") from None
    if not np.isfinite(values).all():
        where = _find_bad_csv_cell(path, form, names)
        raise DataError(f"{path}: {where or 'contains NaN or infinity'}; fastgd needs a finite number in every cell")
    return values, reader


# ---------------------------------------------------------- array reading --


def _check_finite_columns(path: Path, columns: list[NDArray], names: list[str], first_row: int = 0) -> None:
    for column, name in zip(columns, names, strict=True):
        finite = np.isfinite(column)
        if not finite.all():
            row = int(np.argmin(finite))
            what = "NaN" if np.isnan(column[row]) else "infinity"
            raise DataError(f"{path}: row {first_row + row}, column {name!r} is {what}; fastgd needs finite numbers")


def _as_numeric_column(values: Any, path: Path, name: str) -> NDArray:
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise DataError(f"{path}: column {name!r} has non-numeric dtype {array.dtype}")
    return array


def _stack(columns: list[NDArray]) -> NDArray[np.floating]:
    # float32 stays float32 (fastgd computes in float64 either way); anything else becomes float64.
    dtype = np.float32 if all(column.dtype == np.float32 for column in columns) else np.float64
    out = np.empty((columns[0].shape[0], len(columns)), dtype=dtype)
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


def _npy_columns(array: np.ndarray, names: list[str], path: Path) -> list[NDArray]:
    """The named columns of a ``.npy`` array (or of a block of its rows): fields, indices, or the one column."""
    if array.dtype.names:
        columns = [array[name] for name in names]
    elif array.ndim == 1:
        columns = [array]
    else:
        columns = [array[:, int(name)] for name in names]
    return [_as_numeric_column(column, path, name) for column, name in zip(columns, names, strict=True)]


def _read_arrays(path: Path, suffix: str, names: list[str]) -> tuple[list[NDArray], str]:
    if suffix == ".npy":
        return _npy_columns(_load_npy(path), names, path), "numpy"
    if suffix == ".npz":
        where = _npz_columns(path)
        with _load_npz(path) as arrays:  # only the arrays that hold requested columns are read
            loaded = {array_name: arrays[array_name] for array_name in {where[name][0] for name in names}}
        lengths = {array_name: array.shape[0] for array_name, array in loaded.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"{path}: arrays have different lengths: {lengths}")
        columns = []
        for name in names:
            array_name, index = where[name]
            columns.append(
                _as_numeric_column(loaded[array_name] if index is None else loaded[array_name][:, index], path, name)
            )
        return columns, "numpy"
    pq = _pyarrow_parquet(path)
    try:
        table = pq.read_table(path, columns=names)
    except Exception as error:  # pyarrow's own error types
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    columns = [_parquet_column(table.column(name), name, path, 0) for name in names]
    return columns, "pyarrow"


def _parquet_column(column: Any, name: str, path: Path, first_row: int) -> NDArray:
    """A Parquet column (of a table or a record batch starting at ``first_row``) as numpy: numeric, no nulls."""
    import pyarrow as pa

    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_boolean(column.type)):
        raise DataError(f"{path}: column {name!r} has type {column.type}; fastgd needs numeric columns")
    if column.null_count:
        row = first_row + int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{path}: row {row}, column {name!r} is missing (null); fastgd needs a number in every cell")
    return column.to_numpy(zero_copy_only=False)


def _read_columns(
    path: Path, names: list[str], reader: str, sep: str | None, encoding: str | None
) -> tuple[NDArray[np.floating], str]:
    suffix = _suffix(path)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, names, reader, sep, encoding)
    columns, used = _read_arrays(path, suffix, names)
    if not columns[0].shape[0]:
        return np.empty((0, len(names))), used
    _check_finite_columns(path, columns, names)
    return _stack(columns), used


# ------------------------------------------------------ row blocks (streaming) --


def iter_blocks(
    path: str | os.PathLike,
    names: Sequence[str],
    *,
    block_bytes: int,
    reader: str = "auto",
    sep: str | None = None,
    encoding: str | None = None,
) -> Iterator[tuple[NDArray[np.floating], int, int]]:
    """The named columns of a data file, a block of rows at a time: ``(values, first_row, bytes_read)``.

    Each block holds about ``block_bytes`` of float64 values (CSV: of text),
    so memory stays bounded whatever the file's size. The values are those
    :func:`load_training_data` reads, with the same errors, and bad cells
    are reported at their place in the whole file (CSV: its line; arrays and
    Parquet: its row). ``.npy`` is memory-mapped and sliced; Parquet is read
    in record batches; CSV in runs of whole lines parsed by the same reader
    as a whole file (a quoted field must not span lines). ``.npz`` arrays
    are compressed together, so they cannot be streamed: a DataError says so.
    """
    path = _existing(path)
    names = list(names)
    suffix = _suffix(path)
    if suffix in CSV_SUFFIXES:
        yield from _csv_blocks(path, names, block_bytes, reader, sep, encoding)
    elif suffix == ".npy":
        yield from _npy_blocks(path, names, block_bytes)
    elif suffix in PARQUET_SUFFIXES:
        yield from _parquet_blocks(path, names, block_bytes)
    else:
        raise DataError(
            f"{path}: a {suffix} file cannot be read in blocks (its arrays are compressed together); "
            "save the data as .npy or Parquet to stream it"
        )


def estimated_bytes(path: str | os.PathLike, n_columns: int) -> int:
    """About how much memory ``n_columns`` columns of the file take as float64 (a CSV: the file's size)."""
    path = _existing(path)
    suffix = _suffix(path)
    if suffix == ".npy":
        return _load_npy(path).shape[0] * n_columns * 8
    if suffix in PARQUET_SUFFIXES:
        return _pyarrow_parquet(path).ParquetFile(path).metadata.num_rows * n_columns * 8
    if suffix == ".npz":
        return sum(math.prod(shape) for shape in _npz_shapes(path).values()) * 8
    # CSV: the rows a sample's line length implies, as float64 values, or the text if that is larger.
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.readline()
        sample = handle.read(1 << 20)
    lines = max(1, sample.count(b"\n"))
    return max(size, int(size / (len(sample) / lines)) * n_columns * 8) if sample else size


def streamable(path: str | os.PathLike) -> bool:
    """Whether :func:`iter_blocks` can read the file in blocks (not an ``.npz``)."""
    return _suffix(Path(path)) != ".npz"


def _csv_blocks(path: Path, names: list[str], block_bytes: int, reader: str, sep, encoding):
    form = csv_format(path, sep, encoding)
    reader = _choose_csv_reader(reader)
    if not "a\n".encode(form.encoding).endswith(b"a\n"):  # one byte per newline (UTF-8, Latin-1, ...)
        raise DataError(f"{path}: {_encoding_name(form.encoding)} text cannot be read in blocks; convert it to UTF-8")
    parse = {"pyarrow": _read_csv_pyarrow, "pandas": _read_csv_pandas, "numpy": _read_csv_numpy}[reader]
    first_row = 0
    with open(path, "rb") as handle:
        header = handle.readline()
        while True:
            text = handle.read(block_bytes)
            if not text:
                return
            text += handle.readline()  # whole lines only
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "input contained no data", UserWarning)  # blank lines only
                    values = parse(io.BytesIO(header + text), names, form)
            except Exception as error:  # every reader's own error types, as in _read_csv
                where = _find_bad_csv_cell(path, form, names)
                if where is None:  # the file is fine as a whole: a quoted field spans the block's end
                    where = (
                        f"cannot be read in blocks near byte {handle.tell():,} ({type(error).__name__}): a quoted "
                        "field with a line break there? Raise --memory-budget to read it whole (from Python: "
                        "fastgd.io.load_training_data, then fastgd.train)"
                    )
                raise DataError(f"{path}: {where}") from None
            if not np.isfinite(values).all():
                where = _find_bad_csv_cell(path, form, names)
                raise DataError(
                    f"{path}: {where or 'contains NaN or infinity'}; fastgd needs a finite number in every cell"
                )
            if values.shape[0]:
                yield values, first_row, handle.tell()
            first_row += values.shape[0]


def _npy_blocks(path: Path, names: list[str], block_bytes: int):
    array = _load_npy(path)
    rows = max(1, block_bytes // (8 * len(names)))
    header_bytes = path.stat().st_size - array.nbytes
    row_bytes = array.nbytes // max(1, array.shape[0])
    for start in range(0, array.shape[0], rows):
        part = array[start : start + rows]
        columns = _npy_columns(part, names, path)
        _check_finite_columns(path, columns, names, start)
        yield _stack(columns), start, header_bytes + (start + part.shape[0]) * row_bytes


def _parquet_blocks(path: Path, names: list[str], block_bytes: int):
    pq = _pyarrow_parquet(path)
    try:
        # pre_buffer=False with a small read buffer: pyarrow would otherwise read ahead the whole file.
        handle = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        batches = handle.iter_batches(batch_size=max(1, block_bytes // (8 * len(names))), columns=names)
    except Exception as error:  # pyarrow's own error types
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    total_rows = max(1, handle.metadata.num_rows)
    size = path.stat().st_size
    first_row = 0
    for batch in batches:
        columns = [_parquet_column(batch.column(name), name, path, first_row) for name in names]
        _check_finite_columns(path, columns, names, first_row)
        if batch.num_rows:
            yield _stack(columns), first_row, int(size * (first_row + batch.num_rows) / total_rows)
        first_row += batch.num_rows


def _describe_size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:,.1f} MB" if size >= 1e5 else f"{size:,} bytes"


def _resolved_names(path: Path, wanted: Sequence[str], sep: str | None, encoding: str | None) -> list[str]:
    """The file's column names for ``wanted`` (an ``.npz`` array's name stands for all its columns)."""
    available = column_names(path, sep=sep, encoding=encoding)
    groups: dict[str, list[str]] = {}
    if _suffix(path) == ".npz":
        for name in available:
            base = re.fullmatch(r"(.*)\[\d+\]", name)
            if base:
                groups.setdefault(base.group(1), []).append(name)
    return _resolve(path, wanted, available, groups)


def training_columns(
    path: str | os.PathLike,
    target: str,
    features: Sequence[str] | None = None,
    *,
    sep: str | None = None,
    encoding: str | None = None,
) -> list[str]:
    """The columns :func:`load_training_data` reads, features first and the target last, as the file names them."""
    path = _existing(path)
    target = str(target).strip()
    if features is None:
        available = column_names(path, sep=sep, encoding=encoding)
        target_names = _resolve(path, [target], available, {})
        features = [name for name in available if name not in target_names]
        if not features:
            raise DataError(f"{path}: no feature columns besides the target {target!r}")
    return _resolved_names(path, [*features, target], sep, encoding)


def _load(
    path: str | os.PathLike,
    wanted: list[str],
    *,
    reader: str,
    log: Log,
    verb: str,
    sep: str | None = None,
    encoding: str | None = None,
) -> tuple[NDArray[np.floating], list[str], Path, str, float]:
    path = _existing(path)
    names = _resolved_names(path, wanted, sep, encoding)
    log(f"reading {path} ({_describe_size(path)}) ...")
    started = time.perf_counter()
    values, used = _read_columns(path, names, reader, sep, encoding)
    seconds = time.perf_counter() - started
    if values.shape[0] == 0:
        raise DataError(f"{path}: no data rows (the file has only a header or empty arrays)")
    log(f"read {values.shape[0]:,} rows x {len(names)} columns from {path.name} in {seconds:.2f} s ({used}){verb}")
    return values, names, path, used, seconds


def load_training_data(
    path: str | os.PathLike,
    target: str,
    features: Sequence[str] | None = None,
    *,
    reader: str = "auto",
    log: Log = _quiet,
    sep: str | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Read a target column and feature columns from a data file.

    Parameters
    ----------
    path : str or path
        A ``.csv``, ``.npy``, ``.npz`` or ``.parquet`` file (see the module docs).
    target : str
        The target column's name (for a 2-D ``.npy``, its index, e.g. ``"3"`` or ``"-1"``).
    features : list of str, optional
        Feature columns (an ``.npz`` array name means all its columns).
        Default: every column except the target.
    reader : {"auto", "pyarrow", "pandas", "numpy"}
        CSV parser; ``"auto"`` takes the first one installed, in that order.
        All three give the same columns and values (``true``/``false`` read as
        1 and 0, a line with too many or too few fields is an error).
    log : callable, optional
        Called with progress messages (e.g. ``print``).
    sep, encoding : str, optional
        A CSV file's field separator (default: found from the header line)
        and text encoding (default: UTF-8); see :func:`csv_format`.

    Raises
    ------
    DataError
        Missing file, unknown column (the message lists the available ones),
        a non-numeric, empty or non-finite cell (with its line or row and
        column), no data rows or a single row.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "data.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,price\\n1,2,3\\n4,5,6\\n")
    >>> data = load_training_data(path, target="price")
    >>> data.feature_names, data.X.shape, data.y.tolist()
    (['a', 'b'], (2, 2), [3.0, 6.0])
    """
    names = training_columns(path, target, features, sep=sep, encoding=encoding)
    values, names, path, used, seconds = _load(path, names, reader=reader, log=log, verb="", sep=sep, encoding=encoding)
    if values.shape[0] < 2:
        raise DataError(f"{path}: only {values.shape[0]} data row; fitting needs at least 2")
    X = np.ascontiguousarray(values[:, :-1])
    return Dataset(X, values[:, -1].copy(), names[:-1], names[-1], path, used, seconds)


def load_features(
    path: str | os.PathLike,
    feature_names: Sequence[str],
    *,
    reader: str = "auto",
    log: Log = _quiet,
    sep: str | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Read the named feature columns (e.g. a model's) from a data file (options as :func:`load_training_data`).

    For a 2-D ``.npy`` array with exactly ``len(feature_names)`` columns, the
    columns are taken in order whatever the names; otherwise columns are
    found by name (other columns, such as the target, are ignored).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "new.npy")
    >>> np.save(path, np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> load_features(path, ["height", "width"]).X.tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    wanted = [str(name) for name in feature_names]
    path = Path(path)
    if path.suffix.lower() == ".npy":
        available = column_names(path)
        by_position = available == [str(j) for j in range(len(available))]
        if by_position and len(available) == len(wanted):
            wanted = available
        elif by_position and not set(wanted) <= set(available):
            raise DataError(
                f"{path}: the model has {len(wanted)} feature(s) ({', '.join(wanted)}); a plain .npy array is "
                f"matched by position and needs exactly {len(wanted)} column(s), but this one has {len(available)}"
            )
    values, _names, path, used, seconds = _load(
        path, wanted, reader=reader, log=log, verb="", sep=sep, encoding=encoding
    )
    return Dataset(values, None, list(feature_names), None, path, used, seconds)


# ----------------------------------------------------------------- output --


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike, what: str = "output") -> Path:
    """Fail early, before any training, if ``path`` cannot be written.

    Raises
    ------
    DataError
        The directory does not exist or is not writable, or ``path`` is a directory.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DataError(f"cannot write {what} {path}: it is a directory")
    if not parent.is_dir():
        raise DataError(f"cannot write {what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write {what} {path}: directory {parent} is not writable")
    return path


def _same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file: the same resolved path, or (both existing) the same inode."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def check_distinct_paths(outputs: Sequence[tuple[str, Any]], inputs: Sequence[tuple[str, Any]]) -> None:
    """Refuse an output that is one of the inputs, or the same file as another output.

    ``outputs`` and ``inputs`` are ``(what, path)`` pairs (``what`` names the
    option in the message); ``None`` paths and ``-`` (standard output) are
    left out. Symbolic links, ``..`` and hard links are seen through.

    Raises
    ------
    DataError
        Naming both options and what to do instead.
    """
    outputs = [(what, Path(path)) for what, path in outputs if path not in (None, "-")]
    for index, (what, path) in enumerate(outputs):
        if path.exists() and not path.is_file() and not path.is_symlink():
            continue  # a device or FIFO: written through, so several outputs may share it (/dev/null)
        for input_what, input_path in inputs:
            if input_path is not None and _same_file(path, Path(input_path)):
                raise DataError(
                    f"{what} {path} is the same file as the {input_what} {input_path}: writing it would destroy "
                    "the input; choose another output file name"
                )
        for other_what, other in outputs[index + 1 :]:
            if _same_file(path, other):
                raise DataError(
                    f"{what} {path} and {other_what} {other} are the same file: one would overwrite the other; "
                    "give them different names"
                )


_TEMPORARY_SUFFIX = ".fastgd-tmp"


def _temporary_prefix(path: Path) -> str:
    """The start of the names of ``path``'s temporary files, before the writer's process id: hidden, naming the host."""
    return f".{path.name}.{re.sub(r'[^A-Za-z0-9_-]', '_', socket.gethostname())}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists (POSIX)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # alive under another user, or unknowable: keep its file
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete temporary files of ``path`` left by writers on this host that no longer run (e.g. after ``kill -9``).

    A process killed outright cannot clean up after itself; the next write
    to the same file does it. Files of live processes, and of other hosts
    (a shared file system), are left alone. Returns what was removed.
    """
    if os.name != "posix":  # os.kill(pid, 0) means something else on Windows: leave the files
        return []
    pattern = re.compile(re.escape(_temporary_prefix(path)) + r"(\d+)\..*" + re.escape(_TEMPORARY_SUFFIX))
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            match = pattern.fullmatch(entry.name)
            if match and entry.is_file(follow_symlinks=False) and not _process_alive(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file through ``write(binary_file)`` into a temporary file, then rename it over ``path``.

    Readers see either the old file or the complete new one, never a partial
    write; on any error the old file is left as it was and the temporary file
    is removed, and one left by a writer killed outright (``kill -9``) is
    removed by the next write (:func:`remove_stale_temporaries`). A
    symbolic link is followed: its target gets the new contents and the link
    stays a link. A destination that exists and is not a regular
    file (a character device such as ``/dev/null`` or ``/dev/stdout``, a FIFO)
    is opened and written to directly, since renaming over it would replace
    the device with a plain file.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> _ = write_atomic(target, lambda f: f.write(b"hello"))
    >>> target.read_text()
    'hello'
    """
    path = check_writable(Path(os.path.realpath(path)))
    if path.exists() and not path.is_file():
        with open(path, "wb") as stream:
            write(stream)
        return path
    remove_stale_temporaries(path)
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f"{_temporary_prefix(path)}{os.getpid()}.", suffix=_TEMPORARY_SUFFIX, delete=False
    )
    try:
        with handle:
            write(handle)
        # NamedTemporaryFile makes 0600 files; give the result the usual permissions.
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
    return path


# ----------------------------------------------------------------- models --


@dataclass(frozen=True)
class LinearModel:
    """A fitted linear model with named features: ``prediction = X @ coef + intercept``.

    Examples
    --------
    >>> model = LinearModel(["a", "b"], [2.0, -1.0], 0.5)
    >>> model.predict([[1.0, 1.0]]).tolist()
    [1.5]
    """

    feature_names: list[str]
    coef: NDArray[np.float64]
    intercept: float
    target_name: str | None = None
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_names", [str(name) for name in self.feature_names])
        object.__setattr__(self, "coef", np.array(self.coef, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "intercept", float(self.intercept))
        if self.coef.shape[0] != len(self.feature_names):
            raise ValueError(
                f"{len(self.feature_names)} feature names but {self.coef.shape[0]} coefficients; they must match"
            )

    @classmethod
    def from_result(
        cls, result: Any, feature_names: Sequence[str], target_name: str | None = None, **training: Any
    ) -> LinearModel:
        """The model a :class:`fastgd.TrainResult` learned, with its training metadata."""
        from ._version import __version__

        metadata = {
            "fastgd_version": __version__,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            # JSON has no NaN: conjugate gradients take no learning rate, recorded as null.
            "lr": float(result.lr) if math.isfinite(result.lr) else None,
            "iterations": int(result.n_iter),
            "stop_reason": result.stop_reason,
            "converged": bool(result.converged),
            "coef_error": float(result.coef_error) if math.isfinite(result.coef_error) else None,
            "final_loss": float(result.final_loss),
            "backend": result.backend,
            "seconds": round(float(result.seconds), 6),
            **training,
        }
        return cls(list(feature_names), np.atleast_1d(result.w), result.b, target_name, metadata)

    def predict(self, X: ArrayLike, *, backend: str = "numba") -> NDArray[np.float64]:
        """``X @ coef + intercept`` for ``X`` of shape ``(n, n_features)``."""
        from .ops import predict

        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.coef.shape[0]:
            raise ValueError(f"X must have shape (n, {self.coef.shape[0]}) for this model; got {X.shape}")
        return predict(X, self.coef, self.intercept, backend=backend)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "target_name": self.target_name,
            "coef": [float(value) for value in self.coef],
            "intercept": self.intercept,
            "training": self.training,
        }


def save_model(path: str | os.PathLike, model: LinearModel) -> Path:
    """Write ``model`` as JSON (atomically). See the module docs for the format.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> _ = save_model(path, LinearModel(["x"], [0.1], 0.2))
    >>> load_model(path).coef.tolist()
    [0.1]
    """
    text = model_text(model)
    return write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def model_text(model: LinearModel) -> str:
    """The JSON document :func:`save_model` writes, checked first: a model that could not be read back is refused.

    Raises
    ------
    DataError
        A coefficient or the intercept is not a finite number (the run diverged).
    """
    if not (np.isfinite(model.coef).all() and math.isfinite(model.intercept)):
        raise DataError(
            "the model has non-finite coefficients (the run diverged) and is not saved; "
            "use a smaller --lr, or leave --lr at auto"
        )
    return json_text(model.to_dict())  # a diverged run's final loss is written as null


def json_text(document: Any) -> str:
    """``document`` as JSON text that any reader accepts: NaN and infinities become ``null``."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(item) for item in value]
        return value

    return json.dumps(clean(document), indent=2, allow_nan=False) + "\n"


def _finite_number(value: Any) -> bool:
    """A JSON number that is a finite float64 (``true``/``false`` are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond float64's range
        return False


# Limits for reading a model file: far beyond any model fastgd writes, small enough that a tampered
# file gets one clear error instead of exhausting memory or the interpreter's recursion limit.
MODEL_MAX_BYTES = 256 << 20
MODEL_MAX_NUMBER_CHARACTERS = 64
MODEL_MAX_DEPTH = 32


def _bounded(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert`` for JSON numbers, refusing any longer than ``MODEL_MAX_NUMBER_CHARACTERS``."""

    def parse(text: str) -> Any:
        if len(text) > MODEL_MAX_NUMBER_CHARACTERS:
            raise DataError(f"a number of {len(text):,} characters (at most {MODEL_MAX_NUMBER_CHARACTERS} are read)")
        return convert(text)

    return parse


def _nesting_depth(text: str) -> int:
    """How deeply JSON arrays and objects nest in ``text`` (brackets inside strings are skipped)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif mark in "]}":
            depth -= 1
    return deepest


def load_model(path: str | os.PathLike) -> LinearModel:
    """Read a model written by :func:`save_model`, checking its format, version and every value.

    Raises
    ------
    DataError
        Not a fastgd model, a format version this fastgd does not know, a value of the wrong type
        (``true`` is not a number), a non-finite or out-of-range number, nesting or numbers beyond
        the limits above, or inconsistent contents.
    """
    path = _existing(path)
    if path.stat().st_size > MODEL_MAX_BYTES:
        raise DataError(f"{path}: not a fastgd model file (larger than {MODEL_MAX_BYTES >> 20} MB)")
    try:
        text = path.read_text(encoding="utf-8")
        if _nesting_depth(text) > MODEL_MAX_DEPTH:
            raise DataError(f"arrays or objects nested deeper than {MODEL_MAX_DEPTH} levels")
        document = json.loads(text, parse_float=_bounded(float), parse_int=_bounded(int))
    except (UnicodeDecodeError, json.JSONDecodeError, DataError) as error:
        raise DataError(f"{path}: not a fastgd model file ({error})") from None
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise DataError(f'{path}: not a fastgd model file (expected "format": "{MODEL_FORMAT}")')
    version = document.get("format_version")
    if type(version) is not int or version != MODEL_FORMAT_VERSION:
        raise DataError(
            f"{path}: model format version {json.dumps(version)}, but this fastgd reads version {MODEL_FORMAT_VERSION}; "
            "use the fastgd version that wrote it, or refit"
        )
    names, coef, intercept = document.get("feature_names"), document.get("coef"), document.get("intercept")
    if not (isinstance(names, list) and names and all(isinstance(name, str) for name in names)):
        raise DataError(f'{path}: "feature_names" must be a non-empty list of strings')
    if not (isinstance(coef, list) and all(_finite_number(value) for value in coef)):
        raise DataError(f'{path}: "coef" must be a list of finite numbers')
    if len(coef) != len(names):
        raise DataError(f"{path}: {len(names)} feature names but {len(coef)} coefficients; the file is inconsistent")
    if not _finite_number(intercept):
        raise DataError(f'{path}: "intercept" must be a finite number')
    target_name = document.get("target_name")
    if target_name is not None and not isinstance(target_name, str):
        raise DataError(f'{path}: "target_name" must be a string or null')
    training = document.get("training")
    if training is not None and not isinstance(training, dict):
        raise DataError(f'{path}: "training" must be an object or null')
    return LinearModel(names, [float(value) for value in coef], float(intercept), target_name, dict(training or {}))
